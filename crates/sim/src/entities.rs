//! GitLab's JSON shapes, rendered on demand from the compact population.
//!
//! Field names, order and null-ness follow the real bodies in `shared/fixtures/gitlab/`; values
//! are derived from the population's draws, so two servers with the same seed and date render
//! byte-identical bodies.

use serde::Serialize;
use serde_json::{Value, json};

use super::LicenceMode;
use super::population::{
    ADMIN_USER_INDEX, Day, EventKind, GHOST_USER_INDEX, GROUP_MEMBERSHIP_DRAW, Kind,
    PROJECT_MEMBERSHIP_DRAW, Population, REGULAR_USER_INDEX, Salt, SimEvent, date_of, flags,
};
use crate::Flavour;

/// The numeric id of the simulated top-level group (and its namespace).
pub(crate) const GROUP_ID: u64 = 4242;

const FIRST_NAMES: [(&str, &str); 30] = [
    ("Alice", "alice"),
    ("Zoë", "zoe"),
    ("José", "jose"),
    ("Łukasz", "lukasz"),
    ("Søren", "soren"),
    ("李", "li"),
    ("Ngozi", "ngozi"),
    ("محمد", "mohammed"),
    ("Aarav", "aarav"),
    ("Olga", "olga"),
    ("Kenji", "kenji"),
    ("Fatima", "fatima"),
    ("Liam", "liam"),
    ("Chloé", "chloe"),
    ("Mateo", "mateo"),
    ("Priya", "priya"),
    ("Ægir", "aegir"),
    ("Ingrid", "ingrid"),
    ("Tomás", "tomas"),
    ("Amara", "amara"),
    ("Noah", "noah"),
    ("Sofia", "sofia"),
    ("Yusuf", "yusuf"),
    ("Hana", "hana"),
    ("Björn", "bjorn"),
    ("Elif", "elif"),
    ("Dmitri", "dmitri"),
    ("Grace", "grace"),
    ("Wei", "wei"),
    ("Ana", "ana"),
];

const LAST_NAMES: [(&str, &str); 24] = [
    ("Smith", "smith"),
    ("Müller", "mueller"),
    ("García", "garcia"),
    ("Nowak", "nowak"),
    ("Okafor", "okafor"),
    ("Tanaka", "tanaka"),
    ("O'Brien", "obrien"),
    ("van der Berg", "vanderberg"),
    ("Kowalczyk", "kowalczyk"),
    ("Haddad", "haddad"),
    ("Johansson", "johansson"),
    ("Rossi", "rossi"),
    ("Nguyễn", "nguyen"),
    ("Petrov", "petrov"),
    ("Silva", "silva"),
    ("Cohen", "cohen"),
    ("王", "wang"),
    ("Dubois", "dubois"),
    ("Kaur", "kaur"),
    ("Andersen", "andersen"),
    ("Yılmaz", "yilmaz"),
    ("Ivanova", "ivanova"),
    ("Mensah", "mensah"),
    ("Lee", "lee"),
];

/// Names a hostile or careless user could choose: markup, formula injection, bidi overrides,
/// emoji and absurd lengths. Everything downstream must escape them.
fn hostile_name(draw: u64) -> String {
    match draw % 10 {
        0 => "<script>alert(\"seatwatch\")</script>".to_string(),
        1 => "\"><img src=x onerror=alert(1)>".to_string(),
        2 => "=HYPERLINK(\"http://evil.example/\",\"click me\")".to_string(),
        3 => "+SUM(1+1)*cmd|' /C calc'!A0".to_string(),
        4 => "Robert \u{202E}gnp.exe".to_string(),
        5 => "🦀 Ferris the Crab 🎉👩‍💻".to_string(),
        6 => "Wolfeschlegelsteinhausenbergerdorff "
            .repeat(7)
            .trim_end()
            .to_string(),
        7 => "Robert'); DROP TABLE users;--".to_string(),
        8 => "&lt;b&gt;already escaped&lt;/b&gt; & <b>bold</b>".to_string(),
        _ => "@admin {{7*7}} ${jndi:ldap://x}".to_string(),
    }
}

const PROJECT_WORDS: [&str; 12] = [
    "Fix flaky test in billing",
    "Add dark mode toggle",
    "Upgrade to Rust 1.90",
    "Refactor session handling",
    "Speed up CI cache",
    "Document the release process",
    "Handle empty search results",
    "Remove deprecated endpoint",
    "Add audit log export",
    "Improve error messages",
    "Bump dependencies",
    "Support SSO login",
];

/// `UserBasic`. Typed rows (rather than `json!`) keep GitLab's field order and make the large
/// listings cheap to serialise.
#[derive(Serialize)]
pub(crate) struct BasicUser {
    id: u64,
    username: String,
    name: String,
    state: &'static str,
    locked: bool,
    avatar_url: String,
    web_url: String,
}

/// `UserWithAdmin` plus the EE fields, in the order of the real body.
#[derive(Serialize)]
pub(crate) struct AdminUser {
    id: u64,
    username: String,
    email: String,
    name: String,
    state: &'static str,
    locked: bool,
    avatar_url: String,
    web_url: String,
    created_at: String,
    is_admin: bool,
    bio: &'static str,
    location: Option<()>,
    linkedin: &'static str,
    twitter: &'static str,
    discord: &'static str,
    github: &'static str,
    website_url: &'static str,
    organization: &'static str,
    job_title: &'static str,
    last_sign_in_at: Option<String>,
    confirmed_at: String,
    theme_id: u8,
    last_activity_on: Option<String>,
    color_scheme_id: u8,
    projects_limit: u32,
    current_sign_in_at: Option<String>,
    note: Option<()>,
    identities: [(); 0],
    can_create_group: bool,
    can_create_project: bool,
    two_factor_enabled: bool,
    external: bool,
    private_profile: bool,
    current_sign_in_ip: Option<String>,
    last_sign_in_ip: Option<String>,
    namespace_id: u64,
    created_by: Option<BasicUser>,
    bot: bool,
    is_auditor: bool,
    using_license_seat: bool,
}

#[derive(Serialize)]
pub(crate) struct BillableMember {
    id: u64,
    username: String,
    name: String,
    state: &'static str,
    avatar_url: String,
    web_url: String,
    /// The public email only; absent when the member has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    last_activity_on: Option<String>,
    membership_type: &'static str,
    removable: bool,
    created_at: String,
    last_login_at: Option<String>,
    is_last_owner: bool,
}

/// Everything a response needs about one user on the current date.
pub(crate) struct UserView<'p> {
    pub index: usize,
    pub id: u64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub state: &'static str,
    pub bot: bool,
    pub last_activity_on: Option<Day>,
    /// (current_sign_in_at, last_sign_in_at) as timestamps.
    pub sign_ins: Option<(String, String)>,
    pub created_at: String,
    pub using_license_seat: bool,
    pop: &'p Population,
}

pub(crate) struct Render<'p> {
    pub pop: &'p Population,
    pub flavour: Flavour,
    pub group_path: &'p str,
    /// `http://host:port`, from the request's Host header.
    pub origin: &'p str,
    pub as_of: Day,
    /// Seconds after local midnight of `as_of`.
    pub now: u32,
    pub utc_offset_seconds: i32,
    /// Whether the instance has a licence: without one `using_license_seat` is false for
    /// everyone (`ee/app/models/ee/user.rb` `using_license_seat?` needs `License.current`).
    pub licensed: bool,
}

pub(crate) fn timestamp(day: Day, second: u32, millis: u32) -> String {
    format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        date_of(day),
        second / 3600,
        second / 60 % 60,
        second % 60,
        millis
    )
}

pub(crate) fn date(day: Day) -> String {
    date_of(day).to_string()
}

impl<'p> Render<'p> {
    /// A local (instance time zone) moment rendered in UTC, as GitLab.com renders times; the
    /// instant is the same whatever zone a JSON time is written in.
    pub(crate) fn utc_timestamp(&self, day: Day, second: u32, millis: u32) -> String {
        let utc = i64::from(second) - i64::from(self.utc_offset_seconds);
        let (day, second) = (
            day + utc.div_euclid(86_400) as Day,
            utc.rem_euclid(86_400) as u32,
        );
        timestamp(day, second, millis)
    }

    /// The user with activity fields (`last_activity_on`, sign-ins) worked out.
    pub(crate) fn user(&self, index: usize) -> UserView<'p> {
        let pop = self.pop;
        let mut view = self.identity(index);
        view.last_activity_on = pop.last_activity_on(index, self.as_of, self.now);
        view.sign_ins = pop
            .sign_ins(index, self.as_of, self.now)
            .map(|(current, last)| {
                let at = |day: Day| {
                    let h = pop.draw(index, day as u64, Salt::Time);
                    timestamp(day, 7 * 3600 + (h % 3600) as u32, (h >> 20) as u32 % 1000)
                };
                (at(current), at(last))
            });
        view
    }

    /// The username and display name of user `index`: the fixed accounts GitLab seeds, bots by
    /// their own naming rules, humans from the name lists.
    fn username_and_name(&self, index: usize) -> (String, String) {
        let u = self.pop.users[index];
        let id = index as u64 + 1;
        let name_draw = self.pop.draw(index, 0, Salt::Name);
        match (index, u.kind) {
            (ADMIN_USER_INDEX, _) => match self.flavour {
                Flavour::SelfManaged => ("root".to_string(), "Administrator".to_string()),
                Flavour::GitLabCom => (
                    format!("{}-owner", self.group_path),
                    "Group Owner".to_string(),
                ),
            },
            (REGULAR_USER_INDEX, _) => ("dana.regular".to_string(), "Dana Regular".to_string()),
            (GHOST_USER_INDEX, _) => ("ghost".to_string(), "Ghost User".to_string()),
            (_, Kind::Internal) if index == 3 => {
                ("support-bot".to_string(), "GitLab Support Bot".to_string())
            }
            (_, Kind::Internal) => ("alert-bot".to_string(), "GitLab Alert Bot".to_string()),
            (_, Kind::ProjectBot) => (
                format!(
                    "project_{}_bot_{:08x}",
                    name_draw % 500 + 1,
                    name_draw >> 32
                ),
                ["ci-deploy", "renovate", "release-bot", "danger-bot"][(name_draw % 4) as usize]
                    .to_string(),
            ),
            (_, Kind::ServiceAccount) => (
                format!("service_account_group_{GROUP_ID}_{:08x}", name_draw >> 32),
                "Service account user".to_string(),
            ),
            (_, Kind::Human) if u.has(flags::HOSTILE_NAME) => {
                (format!("user{id}"), hostile_name(name_draw))
            }
            (_, Kind::Human) => {
                let (first, first_slug) =
                    FIRST_NAMES[(name_draw % FIRST_NAMES.len() as u64) as usize];
                let (last, last_slug) =
                    LAST_NAMES[((name_draw >> 16) % LAST_NAMES.len() as u64) as usize];
                (
                    format!("{first_slug}.{last_slug}{id}"),
                    format!("{first} {last}"),
                )
            }
        }
    }

    /// Names and state only: enough for `UserBasic`, event authors and searches, and much
    /// cheaper than [`Render::user`] because no activity history is scanned.
    pub(crate) fn identity(&self, index: usize) -> UserView<'p> {
        let pop = self.pop;
        let u = pop.users[index];
        let id = index as u64 + 1;
        let (username, name) = self.username_and_name(index);
        let email = match u.kind {
            Kind::Human => format!("{username}@example.com"),
            _ => format!("{username}@noreply.example.com"),
        };
        UserView {
            index,
            id,
            username,
            name,
            email,
            state: u.state_on(self.as_of).as_str(),
            bot: pop.is_bot(index),
            last_activity_on: None,
            sign_ins: None,
            created_at: timestamp(u.created, u.created_ms / 1_000, u.created_ms % 1_000),
            using_license_seat: self.licensed && u.holds_seat_on(self.as_of),
            pop,
        }
    }

    fn avatar_url(&self, v: &UserView) -> String {
        format!(
            "https://www.gravatar.com/avatar/{:016x}{:016x}?s=80&d=identicon",
            v.pop.draw(v.index, 1, Salt::Misc),
            v.pop.draw(v.index, 2, Salt::Misc)
        )
    }

    pub(crate) fn web_url(&self, v: &UserView) -> String {
        format!("{}/{}", self.origin, v.username)
    }

    /// `UserBasic`: what non-admins see in `/users` and inside events.
    pub(crate) fn basic_row(&self, v: &UserView) -> BasicUser {
        BasicUser {
            id: v.id,
            username: v.username.clone(),
            name: v.name.clone(),
            state: v.state,
            locked: false,
            avatar_url: self.avatar_url(v),
            web_url: self.web_url(v),
        }
    }

    pub(crate) fn user_basic(&self, v: &UserView) -> Value {
        serde_json::to_value(self.basic_row(v)).expect("a user renders as JSON")
    }

    fn event_author(&self, v: &UserView) -> Value {
        json!({
            "name": v.name,
            "username": v.username,
            "id": v.id,
            "state": v.state,
            "avatar_url": self.avatar_url(v),
            "web_url": self.web_url(v),
        })
    }

    /// `UserWithAdmin`, as in the admin `/users` listing (EE fields included).
    pub(crate) fn admin_row(&self, v: &UserView) -> AdminUser {
        let u = &self.pop.users[v.index];
        let (current, last) = match &v.sign_ins {
            Some((c, l)) => (Some(c.clone()), Some(l.clone())),
            None => (None, None),
        };
        AdminUser {
            id: v.id,
            username: v.username.clone(),
            email: v.email.clone(),
            name: v.name.clone(),
            state: v.state,
            locked: false,
            avatar_url: self.avatar_url(v),
            web_url: self.web_url(v),
            created_at: v.created_at.clone(),
            is_admin: u.has(flags::ADMIN),
            bio: "",
            location: None,
            linkedin: "",
            twitter: "",
            discord: "",
            github: "",
            website_url: "",
            organization: "",
            job_title: "",
            last_sign_in_at: last,
            confirmed_at: v.created_at.clone(),
            theme_id: 1,
            last_activity_on: v.last_activity_on.map(date),
            color_scheme_id: 1,
            projects_limit: 100_000,
            current_sign_in_at: current,
            note: None,
            identities: [],
            can_create_group: u.kind == Kind::Human,
            can_create_project: u.kind == Kind::Human && !u.has(flags::EXTERNAL),
            two_factor_enabled: u.has(flags::TWO_FACTOR),
            external: u.has(flags::EXTERNAL),
            private_profile: false,
            current_sign_in_ip: self.sign_in_ip(v, 3),
            last_sign_in_ip: self.sign_in_ip(v, 4),
            namespace_id: v.id + 1000,
            created_by: self.created_by(u.kind),
            bot: v.bot,
            is_auditor: u.has(flags::AUDITOR),
            using_license_seat: v.using_license_seat,
        }
    }

    /// A private address of a sign-in (`n` tells the current one from the last), for a user who
    /// signed in at all.
    fn sign_in_ip(&self, v: &UserView, n: u64) -> Option<String> {
        v.sign_ins.as_ref().map(|_| {
            let h = self.pop.draw(v.index, n, Salt::Misc);
            format!("10.{}.{}.{}", h % 256, (h >> 8) % 256, (h >> 16) % 254 + 1)
        })
    }

    /// Bots and service accounts were created by the administrator; people created themselves.
    fn created_by(&self, kind: Kind) -> Option<BasicUser> {
        match kind {
            Kind::ProjectBot | Kind::ServiceAccount => {
                Some(self.basic_row(&self.identity(ADMIN_USER_INDEX)))
            }
            _ => None,
        }
    }

    pub(crate) fn user_admin(&self, v: &UserView) -> Value {
        serde_json::to_value(self.admin_row(v)).expect("a user renders as JSON")
    }

    /// `GET /user`: the admin shape carries `is_admin`; the regular shape has no such key.
    pub(crate) fn current_user(&self, v: &UserView, admin_view: bool) -> Value {
        let mut body = self.user_admin(v);
        let map = body.as_object_mut().expect("user_admin renders an object");
        map.insert("public_email".into(), Value::from(v.email.as_str()));
        map.insert("commit_email".into(), Value::from(v.email.as_str()));
        if !admin_view {
            for key in [
                "is_admin",
                "note",
                "namespace_id",
                "created_by",
                "current_sign_in_ip",
                "last_sign_in_ip",
                "is_auditor",
                "using_license_seat",
            ] {
                map.remove(key);
            }
            map.insert("preferred_language".into(), Value::from("en"));
            map.insert("pronouns".into(), Value::Null);
            map.insert("work_information".into(), Value::Null);
            map.insert("followers".into(), Value::from(0));
            map.insert("following".into(), Value::from(0));
            map.insert("local_time".into(), Value::from("9:00 AM"));
        }
        body
    }

    /// One row of `/groups/:id/billable_members`.
    pub(crate) fn billable_member(&self, v: &UserView) -> BillableMember {
        let u = &self.pop.users[v.index];
        let direct = self.pop.direct_memberships(v.index);
        // ee/lib/ee/api/entities/billable_member.rb: the first of group_member, project_member,
        // group_invite, project_invite that holds; removable only for the direct ones.
        let membership_type = if direct.group.is_some() {
            "group_member"
        } else if direct.project.is_some() {
            "project_member"
        } else {
            "group_invite"
        };
        BillableMember {
            id: v.id,
            username: v.username.clone(),
            name: v.name.clone(),
            state: v.state,
            avatar_url: self.avatar_url(v),
            web_url: self.web_url(v),
            email: u.has(flags::PUBLIC_EMAIL).then(|| v.email.clone()),
            last_activity_on: v.last_activity_on.map(date),
            membership_type,
            removable: direct.group.is_some() || direct.project.is_some(),
            // ee/lib/ee/api/entities/billable_member.rb exposes the user's `created_at`: on
            // GitLab.com the account's creation, usually long before it joined this group.
            created_at: match self.flavour {
                Flavour::GitLabCom => {
                    let account = self.pop.account_created(v.index);
                    let h = self.pop.draw(v.index, 5, Salt::Misc);
                    timestamp(account, (h % 86_400) as u32, (h >> 32) as u32 % 1000)
                }
                Flavour::SelfManaged => v.created_at.clone(),
            },
            last_login_at: v.sign_ins.as_ref().map(|(current, _)| current.clone()),
            is_last_owner: v.index == ADMIN_USER_INDEX,
        }
    }

    /// `members.created_at` of user `index`'s direct membership of the group itself, `None` if
    /// it has none (there through an invited group, or only through a project). The one
    /// definition of when a group membership began: `/groups/:id/members` and the group row of
    /// `/groups/:id/billable_members/:user_id/memberships` both render it.
    pub(crate) fn group_membership_created_at(&self, index: usize) -> Option<String> {
        let day = self.pop.direct_memberships(index).group?;
        let (second, millis) = self.pop.membership_time(index, GROUP_MEMBERSHIP_DRAW);
        Some(timestamp(day, second, millis))
    }

    /// User `index`'s direct membership of one of the group's own projects (not of a subgroup's),
    /// if it has one: the project and the membership's `created_at`.
    pub(crate) fn project_membership(&self, index: usize) -> Option<(GroupProject, String)> {
        let day = self.pop.direct_memberships(index).project?;
        let (second, millis) = self.pop.membership_time(index, PROJECT_MEMBERSHIP_DRAW);
        let which = self
            .pop
            .draw(index, PROJECT_MEMBERSHIP_DRAW + 1, Salt::Misc);
        let id = 1 + which % (SUBGROUP_FROM - 1);
        Some((group_project(self, id), timestamp(day, second, millis)))
    }

    pub(crate) fn event(&self, v: &UserView, e: &SimEvent) -> Value {
        let d = e.detail;
        let project_id = event_project_id(self.flavour, d);
        let target_id = (d >> 8) % 90_000 + 1_000;
        let target_iid = (d >> 24) % 900 + 1;
        let title = PROJECT_WORDS[((d >> 40) % PROJECT_WORDS.len() as u64) as usize];
        let created_at = self.utc_timestamp(e.day, e.second, (d >> 50) as u32 % 1000);
        let mut body = json!({
            "id": e.id,
            "title": null,
            "project_id": project_id,
            "action_name": e.kind.action_name(),
            "target_id": null,
            "target_iid": null,
            "target_type": e.kind.target_type(),
            "author_id": v.id,
            "target_title": null,
            "created_at": created_at,
            "author": self.event_author(v),
            "author_username": v.username,
            "imported": false,
            "imported_from": "none",
        });
        let map = body.as_object_mut().expect("event renders an object");
        match e.kind {
            EventKind::PushedTo | EventKind::PushedNew | EventKind::DeletedBranch => {
                map.insert("push_data".into(), push_data(e.kind, d, target_iid, title));
            }
            EventKind::Joined => {}
            EventKind::NoteOnMr | EventKind::DiffNote | EventKind::NoteOnIssue => {
                map.insert("target_id".into(), Value::from(target_id));
                map.insert("target_iid".into(), Value::from(target_id));
                map.insert("target_title".into(), Value::from(title));
                let note = NoteOn {
                    id: target_id,
                    iid: target_iid,
                    project_id,
                    created_at: &created_at,
                };
                map.insert("note".into(), self.event_note(v, e, &note));
            }
            _ => {
                map.insert("target_id".into(), Value::from(target_id));
                map.insert("target_iid".into(), Value::from(target_iid));
                map.insert("target_title".into(), Value::from(title));
            }
        }
        body
    }

    /// The `note` of a comment event: on an MR (a diff note is resolvable) or on an issue.
    fn event_note(&self, v: &UserView, e: &SimEvent, on: &NoteOn) -> Value {
        let d = e.detail;
        let noteable_type = if e.kind == EventKind::NoteOnIssue {
            "Issue"
        } else {
            "MergeRequest"
        };
        let mut note = json!({
            "id": on.id,
            "type": if e.kind == EventKind::DiffNote { Value::from("DiffNote") } else { Value::Null },
            "body": "Looks good to me, one nit inline.",
            "attachment": null,
            "author": self.event_author(v),
            "created_at": on.created_at,
            "updated_at": on.created_at,
            "system": false,
            "noteable_id": (d >> 30) % 50_000 + 1,
            "noteable_type": noteable_type,
            "project_id": on.project_id,
            "resolvable": e.kind == EventKind::DiffNote,
            "confidential": false,
            "internal": false,
            "noteable_iid": on.iid,
            "commands_changes": {},
        });
        if e.kind == EventKind::DiffNote
            && let Some(note) = note.as_object_mut()
        {
            note.insert("resolved".into(), Value::from(false));
        }
        note
    }
}

/// What a comment event's note is attached to, as the event names it.
struct NoteOn<'a> {
    id: u64,
    iid: u64,
    project_id: u64,
    created_at: &'a str,
}

/// The `push_data` of a push event: a branch pushed to, created or removed, with its commits.
fn push_data(kind: EventKind, d: u64, target_iid: u64, title: &str) -> Value {
    let (action, commit_count) = match kind {
        EventKind::PushedTo => ("pushed", (d >> 12) % 6 + 1),
        EventKind::PushedNew => ("created", (d >> 12) % 3),
        _ => ("removed", 0),
    };
    let sha = |salt: u64| {
        format!(
            "{:016x}{:016x}{:08x}",
            d ^ salt,
            d.rotate_left(17) ^ salt,
            salt as u32
        )
    };
    let branch = format!(
        "feature/{}-{}",
        target_iid,
        title.split(' ').next().unwrap_or("work").to_lowercase()
    );
    json!({
        "commit_count": commit_count,
        "action": action,
        "ref_type": "branch",
        "commit_from": if action == "created" { Value::Null } else { Value::from(sha(1)) },
        "commit_to": if action == "removed" { Value::Null } else { Value::from(sha(2)) },
        "ref": branch,
        "commit_title": if commit_count > 0 { Value::from(title) } else { Value::Null },
        "ref_count": null,
    })
}

/// `lib/api/metadata.rb`; `enterprise` is `Gitlab.ee?`, false on Community Edition. `gitlab_17`:
/// the simulated GitLab predates 18.0 (`SimConfig::duo_activity_field` off).
pub(crate) fn metadata(flavour: Flavour, licence: LicenceMode, gitlab_17: bool) -> Value {
    let community = licence == LicenceMode::CommunityEdition && flavour == Flavour::SelfManaged;
    let (version, kas_version) = match flavour {
        Flavour::SelfManaged if gitlab_17 && community => ("17.11.4", "17.11.4"),
        Flavour::SelfManaged if gitlab_17 => ("17.11.4-ee", "17.11.4"),
        Flavour::SelfManaged if community => ("18.1.1", "18.1.1"),
        Flavour::SelfManaged => ("18.1.1-ee", "18.1.1"),
        Flavour::GitLabCom if gitlab_17 => ("17.11.0-pre", "17.11.0+abc123"),
        Flavour::GitLabCom => ("18.6.0-pre", "18.6.0+abc123"),
    };
    json!({
        "version": version,
        "revision": "ceb07b24cb0",
        "kas": {
            "enabled": true,
            "externalUrl": "grpc://gitlab.example.com:8150",
            "externalK8sProxyUrl": "https://gitlab.example.com:8150/k8s-proxy",
            "version": kas_version,
        },
        "enterprise": !community,
    })
}

/// `GET /license` (`ee/lib/api/license.rb`, entity `ee/lib/api/entities/gitlab_license.rb`).
/// `None` for Community Edition, where the route does not exist.
pub(crate) fn license(pop: &Population, as_of: Day, mode: LicenceMode) -> Option<Value> {
    let user_limit = match mode {
        LicenceMode::SeatLimit => pop.user_limit,
        // user_limit is restrictions[:active_user_count] when restricted, else 0
        LicenceMode::NoSeatLimit => 0,
        // License.current is nil: Grape presents it as `null`
        LicenceMode::NoLicence => return Some(Value::Null),
        LicenceMode::CommunityEdition => return None,
    };
    let active_users = pop.seat_holders(as_of);
    let (historical_max, _) = pop.max_seat_holders(as_of);
    let expired = as_of > pop.term_end;
    let billed = if expired {
        historical_max
    } else {
        active_users
    };
    Some(json!({
        "id": 3,
        "plan": "ultimate",
        "created_at": timestamp(pop.term_start - 3, 9 * 3600 + 1234, 674),
        "starts_at": date(pop.term_start),
        "expires_at": date(pop.term_end),
        "historical_max": historical_max,
        "maximum_user_count": historical_max,
        "expired": expired,
        // License#overage is 0 without a seat restriction
        "overage": if user_limit == 0 { 0 } else { billed.saturating_sub(user_limit) },
        "user_limit": user_limit,
        "active_users": active_users,
        "licensee": {
            "Name": "Jordan Licence",
            "Email": "licensing@acme.example",
            "Company": "Acme Corp",
        },
        "add_ons": {
            "GitLab_FileLocks": 1,
            "GitLab_Auditor_User": 1,
        },
    }))
}

/// `/namespaces/:id`. Billing fields exist only on GitLab.com and only for the Owner (18.9+).
/// `billing_unrestricted`: the flag `restrict_namespace_api_billing_fields` is off (18.3 to 18.8),
/// so `ee/lib/ee/api/entities/namespace.rb` shows the billing fields to anyone who can read the
/// namespace, not only to its Owner.
pub(crate) fn namespace(r: &Render, owner: bool, billing_unrestricted: bool) -> Value {
    let seats = r.pop.seat_holders(r.as_of);
    let (max_seats, max_day) = r.pop.max_seat_holders(r.as_of);
    let mut body = json!({
        "id": GROUP_ID,
        "name": r.group_path,
        "path": r.group_path,
        "kind": "group",
        "full_path": r.group_path,
        "parent_id": null,
        "avatar_url": null,
        "web_url": format!("{}/groups/{}", r.origin, r.group_path),
        "members_count_with_descendants": r.pop.visible(r.as_of),
    });
    let map = body.as_object_mut().expect("namespace renders an object");
    if r.flavour == Flavour::GitLabCom {
        let billing = |v: Value| {
            if owner || billing_unrestricted {
                v
            } else {
                Value::Null
            }
        };
        map.insert("billable_members_count".into(), billing(seats.into()));
        map.insert("max_seats_used".into(), billing(max_seats.into()));
        map.insert(
            "max_seats_used_changed_at".into(),
            billing(timestamp(max_day, 3 * 3600, 0).into()),
        );
        map.insert("seats_in_use".into(), billing(seats.into()));
        if owner {
            map.insert("plan".into(), "ultimate".into());
        }
        map.insert("end_date".into(), billing(date(r.pop.term_end).into()));
        if owner {
            map.insert("trial_ends_on".into(), Value::Null);
            map.insert("trial".into(), false.into());
        }
    }
    map.insert("root_repository_size".into(), 7_340_032_000u64.into());
    map.insert("projects_count".into(), 180.into());
    body
}

/// Projects of the simulated group: ids `1..=GROUP_PROJECTS`, the last third in a subgroup.
pub(crate) const GROUP_PROJECTS: u64 = 180;
const SUBGROUP_FROM: u64 = 121;
/// Public projects elsewhere on GitLab.com that members also contribute to.
const OUTSIDE_PROJECTS_FROM: u64 = 50_000;

/// The project an event happened in. On GitLab.com a member's `/users/:id/events` include events in
/// any public project they touched (`Project.public_or_visible_to_user`,
/// `app/finders/events_finder.rb`), so about one event in ten is outside the monitored group.
fn event_project_id(flavour: Flavour, detail: u64) -> u64 {
    if flavour == Flavour::GitLabCom && (detail >> 56).is_multiple_of(10) {
        OUTSIDE_PROJECTS_FROM + detail % 400
    } else {
        detail % GROUP_PROJECTS + 1
    }
}

pub(crate) struct GroupProject {
    pub id: u64,
    pub in_subgroup: bool,
    /// `name_with_namespace`: the project's `full_name` (`app/models/concerns/routable.rb`).
    pub full_name: String,
    pub path_with_namespace: String,
    pub json: Value,
}

/// The group's projects as `GET /groups/:id/projects?simple=true` renders them
/// (`API::Entities::BasicProjectDetails`).
pub(crate) fn group_projects(r: &Render) -> Vec<GroupProject> {
    (1..=GROUP_PROJECTS)
        .map(|id| group_project(r, id))
        .collect()
}

/// Project `id` (`1..=GROUP_PROJECTS`) of the group.
fn group_project(r: &Render, id: u64) -> GroupProject {
    let in_subgroup = id >= SUBGROUP_FROM;
    let namespace = if in_subgroup {
        format!("{}/platform", r.group_path)
    } else {
        r.group_path.to_string()
    };
    let word = PROJECT_WORDS[(id % PROJECT_WORDS.len() as u64) as usize];
    let path = format!(
        "{}-{id}",
        word.split(' ').next().unwrap_or("project").to_lowercase()
    );
    let created = timestamp(r.pop.anchor - 5 * 365 + id as Day, 9 * 3600, 0);
    let full_name = format!("{namespace} / {path}");
    let path_with_namespace = format!("{namespace}/{path}");
    GroupProject {
        id,
        in_subgroup,
        json: json!({
            "id": id,
            "description": null,
            "name": path,
            "name_with_namespace": full_name,
            "path": path,
            "path_with_namespace": path_with_namespace,
            "created_at": created,
            "default_branch": "main",
            "tag_list": [],
            "topics": [],
            "web_url": format!("{}/{namespace}/{path}", r.origin),
            "avatar_url": null,
            "star_count": 0,
            "last_activity_at": created,
        }),
        full_name,
        path_with_namespace,
    }
}

pub(crate) fn group(r: &Render) -> Value {
    json!({
        "id": GROUP_ID,
        "web_url": format!("{}/groups/{}", r.origin, r.group_path),
        "name": r.group_path,
        "path": r.group_path,
        "description": "The simulated top-level group",
        "visibility": "private",
        "share_with_group_lock": false,
        "require_two_factor_authentication": false,
        "two_factor_grace_period": 48,
        "project_creation_level": "developer",
        "auto_devops_enabled": null,
        "subgroup_creation_level": "maintainer",
        "emails_disabled": false,
        "emails_enabled": true,
        "mentions_disabled": null,
        "lfs_enabled": true,
        "default_branch": null,
        "default_branch_protection": 2,
        "avatar_url": null,
        "request_access_enabled": false,
        "full_name": r.group_path,
        "full_path": r.group_path,
        "created_at": timestamp(r.pop.anchor - 5 * 365, 8 * 3600, 0),
        "parent_id": null,
        "organization_id": 1,
        "shared_runners_setting": "enabled",
        "marked_for_deletion_on": null,
        "ldap_cn": null,
        "ldap_access": null,
        "wiki_access_level": "enabled",
        "shared_with_groups": [],
        "projects": [],
        "shared_projects": [],
    })
}

/// A row of `GET /groups/:id/members` and the answer of `GET /groups/:id/members/all/:user_id`
/// (`lib/api/members.rb`, entity `lib/api/entities/member.rb` with the EE additions of
/// `ee/lib/ee/api/entities/member.rb`): the user basics (`expose :user, merge: true, using:
/// UserBasic`) plus the membership: its `access_level` and `created_at` (the membership row's
/// own, not the account's). `seat`: `show_seat_info` was asked for, so `is_using_seat` is sent
/// with this value.
pub(crate) fn member(
    r: &Render,
    v: &UserView,
    access_level: u32,
    created_at: &str,
    seat: Option<bool>,
) -> Value {
    let mut body = json!({
        "id": v.id,
        "username": v.username,
        "name": v.name,
        "state": v.state,
        "locked": false,
        "avatar_url": r.avatar_url(v),
        "web_url": r.web_url(v),
        "access_level": access_level,
        "created_at": created_at,
        "created_by": null,
        "expires_at": null,
        "group_saml_identity": null,
        "membership_state": "active",
    });
    if let (Some(using), Some(map)) = (seat, body.as_object_mut()) {
        map.insert("is_using_seat".into(), Value::from(using));
    }
    body
}
