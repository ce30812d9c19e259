"""Exercise `topological_sort` -- lesson 3, tutorials/03_backpropagation.py

Idea: backpropagation may hand a node's gradient on only after every use of that node
has added its share. So it visits the graph in reverse topological order: if the list
has every node AFTER the nodes it was made from, walking it backwards from the output
does exactly that.

Math: a depth-first search from root: a node is appended after all of its children
(node._prev, the Values it was computed from) are in the list.

Shapes: root is a tinygrad_edu.scalar.Value; return a list with every Value root
depends on (root included), each exactly once, each after all of its children.

Hint: keep a set of visited nodes (a node shared by two paths must appear once).
The check includes a chain of 10,000 operations: Python stops recursion at about
1,000 nested calls, so keep your own stack of (node, children_done) pairs.

Answer: `Value.backward` in tinygrad_edu/scalar.py (read it after trying).
Check: tinygrad-edu exercises check . topological_sort   (from this folder)
"""

from __future__ import annotations

from tinygrad_edu.scalar import Value


def topological_sort(root: Value) -> list:
    """Every Value root depends on, each after the Values it was made from."""
    raise NotImplementedError
