from __future__ import annotations

from tinygrad_edu.scalar import Value


def topological_sort(root: Value) -> list:
    """Every Value root depends on, each after the Values it was made from."""
    topo, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:  # all of node's children are in topo already
            topo.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))  # come back once the children are done
        for child in node._prev:
            if child not in visited:
                stack.append((child, False))
    return topo
