"""The structural items of a layer list: `repeat`, `parallel` and `residual`.

A mixin of `graph.Expander` (which holds the graph, the sink and the outline these
methods fill): each takes the item, the environment and the current node name, and
returns the name of the node its output is.
"""
from __future__ import annotations

from .argtypes import BOOL, Arg
from .check import check_value, resolve, where_of
from .errors import type_name
from .expr import ExprError


class StructuralItems:
    def repeat(self, item, value, where, env, cur, path, name) -> str:
        self.allow_keys(item, ("repeat", "layers", "first", "id", "when"), where, path)
        try:
            count = resolve(value, env)
        except ExprError as exc:
            self.error(where_of(item, "repeat", where).at(path), str(exc))
            return cur
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            self.error(where_of(item, "repeat", where).at(path), "repeat count must be an "
                       f"integer >= 0, received {type_name(count)}")
            return cur
        if "layers" not in item:
            self.error(where.at(path), "repeat needs `layers:` (the repeated list)")
            return cur
        for k in range(count):
            self.count_work(where, path)
            key = "first" if k == 0 and "first" in item else "layers"
            cur = self.items(item[key], {**env, "index": k}, cur, f"{path}#{k}.{key}", f"{name}_{k}",
                             where_of(item, key, where))
        return cur

    def parallel(self, item, value, where, env, cur, path, name) -> str:
        self.allow_keys(item, ("parallel", "merge", "id", "when"), where, path)
        merge = item.get("merge", "concat")
        bad_merge = merge not in ("concat", "add")
        if bad_merge:
            # Reported, and the branches are still read: their own mistakes are said too.
            self.error(where_of(item, "merge", where).at(path + ".merge"),
                       f"merge must be concat or add, received {type_name(merge)}")
            merge = "concat"
        if not isinstance(value, list) or not value:
            self.error(where.at(path), "parallel needs a list of branches (each a list of layers)")
            return cur
        outs = []
        with self.group("parallel", f"parallel ({merge})"):
            for j, branch in enumerate(value):
                bw = where_of(value, j, where)
                branch = branch if isinstance(branch, list) else _as_list(branch, bw)
                with self.group("branch", f"branch {j}"):
                    outs.append(self.items(branch, env, cur, f"{path}[{j}]", f"{name}.b{j}", bw))
        return cur if bad_merge else self.merge_node(merge, tuple(outs), name, path, where)

    def residual(self, item, value, where, env, cur, path, name) -> str:
        self.allow_keys(item, ("residual", "id", "when"), where, path)
        if not isinstance(value, dict) or "body" not in value:
            self.error(where.at(path), "residual needs `body:` (and optionally `shortcut:`)")
            return cur
        self.allow_keys(value, ("body", "shortcut", "add"), where, path)
        add = self.flag(value, "add", where, path, env)
        if add is None:
            return cur
        if not add:  # the body alone: MobileNetV2 adds only where the shapes agree
            return self.items(value["body"], env, cur, path + ".body", f"{name}.body",
                              where_of(value, "body", where))
        short = cur
        sc = value.get("shortcut")
        sw = where_of(value, "shortcut", where)
        if isinstance(sc, dict):
            self.allow_keys(sc, ("when", "layers"), sw, path + ".shortcut")
            when = self.flag(sc, "when", sw, path + ".shortcut", env)
            sc = sc.get("layers", []) if when else None
        # The shortcut is built before the body, as keras.applications does, so weights
        # come out in the same order.
        with self.group("residual", "residual"):
            with self.group("branch", "shortcut"):
                if sc:
                    short = self.items(sc, env, cur, path + ".shortcut", f"{name}.shortcut", sw)
            with self.group("branch", "body"):
                body = self.items(value["body"], env, cur, path + ".body", f"{name}.body",
                                  where_of(value, "body", where))
        # The add takes its inputs in the order the spec writes `shortcut:` and `body:`
        # (ResNet adds the shortcut first, Xception the body): Keras orders the weights
        # of a functional model by walking each merge's inputs in order.
        keys = list(value)
        order = (body, short) if "shortcut" in keys and keys.index("body") < keys.index(
            "shortcut") else (short, body)
        return self.merge_node("add", order, name, path, where)

    def flag(self, mapping, key, where, path, env) -> bool | None:
        """A true/false key of a structural item (default true); None after an error."""
        got = check_value(mapping.get(key, True), Arg(key, BOOL),
                          where_of(mapping, key, where).at(f"{path}.{key}"), self.sink, env)
        return got if isinstance(got, bool) else None



def _as_list(item, where):
    from .yaml_loader import SpecList
    out = SpecList([item])
    out.where, out.item_where = where, [where]
    return out
