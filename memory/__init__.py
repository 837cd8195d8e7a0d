"""The persistent hierarchical caption memory: levels, SQLite nodes, FAISS embeddings."""
