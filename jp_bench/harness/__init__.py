"""The lm-eval integration: the only package that imports ``lm_eval``.

Task classes and hooks that lm-eval loads from our task YAMLs, the runner behind ``jp-bench lm-eval``,
multi-turn generation, the results combiner, and the judge that scores answers inside an lm-eval run.
"""
