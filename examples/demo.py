"""A tour of the Python API on the shipped support tickets: embed them, then find neighbours.

Run from the project root: python examples/demo.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

from bertclf import Embedder

tickets = pd.read_csv(Path(__file__).with_name("support_tickets.csv"))
embedder = Embedder()  # bundled all-MiniLM-L6-v2, its own mean pooling, L2-normalised
vectors = embedder.transform(tickets["text"])
print(f"embedded {len(vectors)} tickets into {vectors.shape[1]}-dim vectors")

queries = [
    "I paid but the money was taken two times",
    "where is my order, it never came",
    "I can't sign in to my profile",
    "the application keeps crashing",
]
query_vectors = embedder.transform(queries)
similarity = query_vectors @ vectors.T  # cosine: the vectors are unit length
for query, scores in zip(queries, similarity, strict=True):
    best = np.argsort(-scores)[:3]
    print(f"\n{query!r}")
    for i in best:
        print(f"  {scores[i]:.2f}  [{tickets.label[i]}] {tickets.text[i]}")

# Same text, nearest-neighbour labels: a first look at how separable the classes are.
neighbour = np.argsort(-(vectors @ vectors.T), axis=1)[:, 1]
agree = (tickets.label.to_numpy()[neighbour] == tickets.label.to_numpy()).mean()
print(f"\nnearest other ticket has the same label for {agree:.0%} of tickets")
