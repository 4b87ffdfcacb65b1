#!/usr/bin/python3
"""bundle-deps.py DEB... - the Debian packages the given .deb files need
that a minimal Debian 12 (debootstrap --variant=minbase: Priority required
and what it depends on) lacks, one name a line.  Dependencies are resolved
as apt does for a fresh install: for each alternative group, one already
present wins, else the first that exists; virtual packages go to their
first provider.  Reads apt's package lists (apt-get update first)."""
import subprocess
import sys

import apt_pkg


def main(debs):
    apt_pkg.init()
    cache = apt_pkg.Cache(progress=None)
    depcache = apt_pkg.DepCache(cache)

    def candidate(pkg):
        return depcache.get_candidate_ver(pkg)

    def real(name):
        try:
            pkg = cache[name]
        except KeyError:
            return None
        if pkg.has_versions:
            return pkg
        if pkg.provides_list:        # virtual: its first provider
            return pkg.provides_list[0][2].parent_pkg
        return None

    def resolve(names, have):
        todo, got = list(names), set()
        while todo:
            name = todo.pop()
            pkg = real(name)
            if pkg is None or pkg.name in have or pkg.name in got:
                continue
            got.add(pkg.name)
            ver = candidate(pkg)
            if ver is None:
                continue
            for kind in ("PreDepends", "Depends"):
                for group in ver.depends_list.get(kind, []):
                    choice = None
                    for dep in group:
                        t = real(dep.target_pkg.name)
                        if t is not None and (t.name in have or t.name in got):
                            choice = None
                            break
                        if choice is None and t is not None and candidate(t):
                            choice = t.name
                    else:
                        if choice is not None:
                            todo.append(choice)
        return got

    required = [p.name for p in cache.packages
                if p.has_versions and candidate(p) is not None
                and candidate(p).priority == apt_pkg.PRI_REQUIRED]
    base = resolve(required, set())
    ours = set()
    first = []
    for deb in debs:
        ours.add(subprocess.check_output(["dpkg-deb", "-f", deb, "Package"],
                                         text=True).strip())
    for deb in debs:
        field = subprocess.check_output(["dpkg-deb", "-f", deb, "Depends"],
                                        text=True)
        for group in apt_pkg.parse_depends(field):
            names = [n.split(":")[0] for n, _, _ in group]
            if any(n in ours or n in base for n in names):
                continue
            for n in names:
                if real(n) is not None:
                    first.append(n)
                    break
    for name in sorted(resolve(first, base | ours)):
        print(name)


if __name__ == "__main__":
    main(sys.argv[1:])
