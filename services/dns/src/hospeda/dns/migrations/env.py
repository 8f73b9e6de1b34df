from hospeda.dns.models import METADATA
from hospeda.runtime.migrate import run_env

run_env(METADATA)
