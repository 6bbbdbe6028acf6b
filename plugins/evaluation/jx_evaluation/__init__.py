"""Evaluation (绩效评价): is a result robust, fair to unit size, and does the plan work as written?

The public functions are in :mod:`jx_evaluation.analysis`; ``jx evaluate`` and the workbook render them.
"""
