from hospeda.runtime.migrate import run_env
from hospeda.runtime.models import RUNTIME_METADATA

run_env(RUNTIME_METADATA)
