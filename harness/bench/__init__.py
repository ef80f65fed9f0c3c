"""`loadgate bench`: the gateway's hot path measured against the mock alone and naive gateways."""
