"""The national medical-insurance platform's records (interfaces 2207, 2208, 3201, 3202) beside
the ledger: pure functions over plain data, no I/O (docs/national.md). The core's
`infra.core.national_service` calls them for every front end.

- `fields`, `records`: the platform's shapes as strict models; amounts held as integer fen.
- `lines`: one JSON line in, one typed record or one coded refusal out.
- `platform_record`: a 2207 record's platform record (`domain.platform_record`: what the ledger
  keeps of it besides its own deduction) and where each of its fields comes from.
- `translate`: a 2207 as a `deduct` or a `record-settlement`, a 2208 as a `reverse` (the JSON
  objects `apply` reads), and an answer's fields named as the record names them.
- `discrepancies`: where the platform's record differs from the ledger's decision.
- `export`: a recorded deduction as a 2207 setlinfo.
- `reconcile`: 3201 statement totals and the 3202 detail against the ledger, as JSON and CSV.
- `answers`: the platform's answer envelope.
"""
