"""Private helpers shared across tfp_nfvi: one home for what would otherwise be written many times.

Nothing here is public API; import the modules directly (`from tfp_nfvi.internal import seeds`).

* `validation`: argument checks (positive ints and floats, int sequences).
* `seeds`: the one int -> TFP stateless seed convention.
* `estimators`: a running log-mean-exp over chunks of importance log-weights.
* `schedules`: the linear KL / annealing warm-up.
* `numerics`: a Euclidean norm with finite value and gradient at 0.
"""
