"""The files a job leaves in its folder: ``result.json`` when it finished, ``failure.json`` (``{"schema",
"run_name", "overrides", "error", "traceback"}``) instead when it raised. Kept free of heavy imports: the
aggregate reads these without loading the model code."""

RESULT_FILE = "result.json"
FAILURE_FILE = "failure.json"
