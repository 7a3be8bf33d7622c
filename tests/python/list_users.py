"""List everything seatwatch reads through python-gitlab, the reference client.

Usage: list_users.py URL TOKEN [GROUP]

Prints one JSON object with counts, so a Rust test can compare them with the
simulator's ground truth: users through offset and keyset pagination, the
current user, one user's events, and (with GROUP) the group's billable members.
"""

import json
import sys

import gitlab


def ids(objects):
    return [o.id for o in objects]


def main():
    url, token = sys.argv[1], sys.argv[2]
    group = sys.argv[3] if len(sys.argv) > 3 else None
    gl = gitlab.Gitlab(url, private_token=token, per_page=100)
    gl.auth()
    me = gl.user

    offset = ids(gl.users.list(iterator=True))
    keyset = ids(
        gl.users.list(iterator=True, pagination="keyset", order_by="id", sort="asc")
    )
    events = gl.users.get(me.id, lazy=True).events.list(
        iterator=True, after="2026-05-31", before="2026-07-01"
    )
    event_ids = [e.id for e in events]
    actions = sorted({e.action_name for e in gl.users.get(me.id, lazy=True).events.list(per_page=100)})

    result = {
        "current_user": me.username,
        "current_user_id": me.id,
        "offset_users": len(offset),
        "offset_unique": len(set(offset)),
        "keyset_users": len(keyset),
        "keyset_unique": len(set(keyset)),
        "keyset_ascending": keyset == sorted(keyset),
        "events": len(event_ids),
        "events_unique": len(set(event_ids)),
        "actions": actions,
    }
    if group:
        members = ids(gl.groups.get(group, lazy=True).billable_members.list(iterator=True))
        result["billable_members"] = len(members)
        result["billable_unique"] = len(set(members))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
