"""What the commands do besides auditing: dedup, sample, the result cache, output paths, interrupts."""
