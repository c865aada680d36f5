"""The chat turn, one pipeline in the order data flows: `request` (three bodies, one
`TurnRequest`) → `service` → `admission` (the rules; `admission_pg` on PostgreSQL) →
`producer` (`steps`, the stream log, `replies`) → the response; `recovery` ends the turns of
workers that died. docs/architecture.md draws it."""
