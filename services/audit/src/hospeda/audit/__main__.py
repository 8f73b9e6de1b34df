from hospeda.audit.app import create_runtime
from hospeda.runtime.service import run

run(create_runtime)
