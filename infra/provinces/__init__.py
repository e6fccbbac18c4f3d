"""Which ledger holds which province: the federation file (`federation_file`) and the directory
of where each person lives (`directory`). Below the core, which wires a ledger of a federation
with them; the federation's own processes (relay, reconcile, bench) live in infra.federation."""
