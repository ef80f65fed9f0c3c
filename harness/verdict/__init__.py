"""The verdict: the budgets a run is held to, and the one judge that applies them."""
