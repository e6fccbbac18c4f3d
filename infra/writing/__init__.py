"""The write path: submissions in, answers out. One way in (`WritePath.write`: a batch decided
in memory and stored in one transaction, with one retry policy), a stream of lines through it
(`streams`), deciding one command (`deciding`), the units of work handlers load and save through
(`units`), and bulk loading of a batch's aggregates (`prefetch`)."""
