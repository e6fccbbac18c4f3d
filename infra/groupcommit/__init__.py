"""Group commit: many commands decided in memory against one unit of work and stored in one
transaction, with the batch's aggregates loaded in bulk beforehand."""
