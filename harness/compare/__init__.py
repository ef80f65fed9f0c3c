"""`loadgate compare`: a base gateway against a head gateway, on one machine, with statistics.

sides.py     what each side runs: an image, a build directory, a git ref, the compose file's
rounds.py    the rounds, alternating (ABBA...), each an ordinary run directory
samples.py   a run directory read back as one round's samples
stats.py     the maths: confidence intervals of the change, and the verdict per metric
thresholds.py  what counts as a regression (`--max-regression`, a budgets file's `compare:`)
"""
