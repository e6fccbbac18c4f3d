"""The HTTP routes, one module per audience: commands (channels, institutions, the fund),
persons and audit (auditors), operations (operators, health for any key)."""
