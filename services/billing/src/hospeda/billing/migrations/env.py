from hospeda.billing.models import METADATA
from hospeda.runtime.migrate import run_env

run_env(METADATA)
