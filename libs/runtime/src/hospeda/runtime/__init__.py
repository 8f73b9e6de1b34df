"""What every Hospeda service shares: settings, broker, database, outbox,
inbox, dead-letter handling, request/reply, durable jobs and telemetry."""
