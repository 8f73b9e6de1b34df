import sys

from hospeda.audit.app import create_runtime
from hospeda.audit.cli import COMMANDS, main
from hospeda.runtime.service import run

if len(sys.argv) > 1 and sys.argv[1] in (*COMMANDS, "-h", "--help"):
    sys.exit(main(sys.argv[1:]))
run(create_runtime)
