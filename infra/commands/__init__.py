"""The ledger's commands: one spec per command (model, handler, what it loads, who may send it),
grouped by family (people, bindings, mutual_aid, deductions), the table derived from them
(table), parsing a line into a typed command once at the edge (parsing), and the answer's shape
(answers). The write path that decides and stores them is infra.writing."""
