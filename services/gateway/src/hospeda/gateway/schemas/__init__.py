"""What the API reads and answers (never the tables themselves), by area; import
from the area's module (``hospeda.gateway.schemas.companies``):

- ``common``: field types, ``example``, ``Outcome``, ``Page[T]``, ``Accepted``;
- ``accounts``, ``sign_in``, ``companies``, ``tokens``, ``staff``: identity, the
  gateway's own data;
- ``activity`` (operations, audit trail), ``ops`` (the pipeline probe);
- ``billing``, ``provisioning``, ``dns``: commands' bodies, and aliases for the
  answers of those services' queries, which the gateway passes on (they get
  their models from the runtime's typed query layer).
"""
