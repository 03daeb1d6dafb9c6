"""Array algorithms the checkers share: MinHash and LSH, integer hashing, embeddings, drift statistics, the prompt index, confident learning, duplicate groups."""
