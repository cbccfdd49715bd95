"""Performance surrogates: tree models, GNNs, graph embeddings, ensembles, metrics."""
