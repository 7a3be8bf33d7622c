"""The peer benchmark: collect seat usage the way most open-source seat reporters do, with
python-gitlab.

Usage: peer_python_gitlab.py URL TOKEN WINDOW_AFTER SNAPSHOT_DATE [GROUP]

Self-managed (no GROUP): one admin user listing (offset pages of 100, python-gitlab's default).
GitLab.com (GROUP, the top-level group's path): the group, then its billable members
(`group.billable_members.list(iterator=True)`, offset pages of 100), as a group Owner would.
Then, in both cases, one after the other,
the events (after=WINDOW_AFTER, before=SNAPSHOT_DATE: GitLab's exclusive whole days, so the
complete days between them) of every user whose `last_activity_on` falls in
(WINDOW_AFTER, SNAPSHOT_DATE] -- the same days and the same work as `seatwatch collect` on a first
run. Prints one JSON object:
users listed, distinct ids, GitLab's `X-Total`, users whose events were read, events, and HTTP
requests sent (counted by a response hook on python-gitlab's session).
"""

import datetime
import json
import sys

import gitlab


def main():
    url, token, after, through = sys.argv[1:5]
    group = sys.argv[5] if len(sys.argv) > 5 else None
    window_after = datetime.date.fromisoformat(after)
    window_through = datetime.date.fromisoformat(through)
    before = window_through.isoformat()

    gl = gitlab.Gitlab(url, private_token=token, per_page=100)
    requests = {"sent": 0}

    def count(response, *args, **kwargs):
        requests["sent"] += 1

    gl.session.hooks["response"].append(count)

    if group:
        listing = gl.groups.get(group).billable_members.list(iterator=True)
    else:
        listing = gl.users.list(iterator=True)
    ids = []
    active = []
    for user in listing:
        ids.append(user.id)
        last = user.attributes.get("last_activity_on")
        if last and window_after < datetime.date.fromisoformat(last) <= window_through:
            active.append(user.id)

    events = 0
    for user_id in active:
        user = gl.users.get(user_id, lazy=True)
        events += sum(1 for _ in user.events.list(iterator=True, after=after, before=before))

    print(
        json.dumps(
            {
                "users": len(ids),
                "unique": len(set(ids)),
                "total": listing.total,
                "active": len(active),
                "events": events,
                "requests": requests["sent"],
            }
        )
    )


if __name__ == "__main__":
    main()
