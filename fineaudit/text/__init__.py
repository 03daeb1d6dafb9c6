"""Text helpers the checkers share, each about one thing: normalization, content patterns, prompt skeletons, language identification, token counting, side tells, tool schemas."""
