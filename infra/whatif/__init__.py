"""What-if: re-evaluate recorded history under another rule set, without writing anything."""
