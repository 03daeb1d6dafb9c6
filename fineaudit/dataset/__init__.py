"""Records as they are read: layouts (detection, field map, parts, views), their validity, the loaders, Hub names."""
