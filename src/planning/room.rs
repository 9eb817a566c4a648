//! Planning for `ChatRoom`: what the room must look like, and the AWS calls that get it there.

use std::collections::BTreeSet;

use crate::api::{ChatRoomSpec, ChatRoomStatus};
use crate::aws::{
    CreateRoom, ReviewHandler, Room, RoomFields, RoomSummary, RoomUpdate, Tags, id_from_arn,
};

use super::naming::aws_name_from_object_name;
use super::tags::{Owner, TooManyTags, desired_tags, tag_delta};

/// IVS Chat's default for `maximumMessageLength`.
pub const DEFAULT_MAXIMUM_MESSAGE_LENGTH: i32 = 500;
/// IVS Chat's default for `maximumMessageRatePerSecond`.
pub const DEFAULT_MAXIMUM_MESSAGE_RATE_PER_SECOND: i32 = 10;

/// The room as it must be in AWS, with every default applied and every reference resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredRoom {
    pub fields: RoomFields,
    pub tags: Tags,
}

/// Builds the desired room from the spec. `logging_configuration_arns` are the spec's
/// references, already resolved to ARNs in spec order.
pub fn desired_room(
    object_name: &str,
    spec: &ChatRoomSpec,
    logging_configuration_arns: Vec<String>,
    default_tags: &Tags,
    owner: &Owner,
) -> Result<DesiredRoom, TooManyTags> {
    let fields = RoomFields {
        name: spec
            .name
            .clone()
            .unwrap_or_else(|| aws_name_from_object_name(object_name)),
        maximum_message_length: spec
            .maximum_message_length
            .unwrap_or(DEFAULT_MAXIMUM_MESSAGE_LENGTH),
        maximum_message_rate_per_second: spec
            .maximum_message_rate_per_second
            .unwrap_or(DEFAULT_MAXIMUM_MESSAGE_RATE_PER_SECOND),
        message_review_handler: spec
            .message_review_handler
            .as_ref()
            .filter(|h| !h.uri.is_empty())
            .map(|h| ReviewHandler {
                uri: h.uri.clone(),
                fallback_result: h
                    .fallback_result
                    .unwrap_or_default()
                    .as_aws_str()
                    .to_string(),
            }),
        logging_configuration_arns,
    };
    let tags = desired_tags(default_tags, spec.tags.as_ref(), owner)?;
    Ok(DesiredRoom { fields, tags })
}

/// One AWS call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomAction {
    Create(CreateRoom),
    /// UpdateRoom carrying only the fields that differ.
    Update(RoomUpdate),
    /// TagResource with the tags to add or change.
    Tag(Tags),
    /// UntagResource with the keys to remove.
    Untag(Vec<String>),
}

/// AWS treats a handler with an empty URI as no handler.
fn effective_handler(handler: &Option<ReviewHandler>) -> Option<&ReviewHandler> {
    handler.as_ref().filter(|h| !h.uri.is_empty())
}

/// Logging configurations are compared as sets: their order carries no meaning in IVS Chat,
/// and comparing as lists would loop forever if AWS ever returned another order.
fn same_arns(a: &[String], b: &[String]) -> bool {
    a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
}

/// The UpdateRoom that turns `observed` into `desired`, with only the fields that differ.
pub fn room_update(desired: &RoomFields, observed: &Room) -> RoomUpdate {
    let mut update = RoomUpdate::default();
    if desired.name != observed.name {
        update.name = Some(desired.name.clone());
    }
    if desired.maximum_message_length != observed.maximum_message_length {
        update.maximum_message_length = Some(desired.maximum_message_length);
    }
    if desired.maximum_message_rate_per_second != observed.maximum_message_rate_per_second {
        update.maximum_message_rate_per_second = Some(desired.maximum_message_rate_per_second);
    }
    let want = effective_handler(&desired.message_review_handler);
    let have = effective_handler(&observed.message_review_handler);
    if want != have {
        // `uri: ""` is how UpdateRoom removes a handler.
        update.message_review_handler = Some(want.cloned().unwrap_or(ReviewHandler {
            uri: String::new(),
            fallback_result: "ALLOW".into(),
        }));
    }
    if !same_arns(
        &desired.logging_configuration_arns,
        &observed.logging_configuration_arns,
    ) {
        update.logging_configuration_arns = Some(desired.logging_configuration_arns.clone());
    }
    update
}

/// The AWS calls that make the room equal to `desired`: a CreateRoom when there is no room, or
/// an UpdateRoom with only the changed fields plus Tag/UntagResource for tag changes only.
/// An empty plan means the room is in sync.
pub fn plan_room(desired: &DesiredRoom, observed: Option<&Room>) -> Vec<RoomAction> {
    let Some(observed) = observed else {
        return vec![RoomAction::Create(CreateRoom {
            fields: desired.fields.clone(),
            tags: desired.tags.clone(),
        })];
    };
    let mut actions = Vec::new();
    let update = room_update(&desired.fields, observed);
    if !update.is_empty() {
        actions.push(RoomAction::Update(update));
    }
    let (to_set, to_remove) = tag_delta(&desired.tags, &observed.tags);
    if !to_set.is_empty() {
        actions.push(RoomAction::Tag(to_set));
    }
    if !to_remove.is_empty() {
        actions.push(RoomAction::Untag(to_remove));
    }
    actions
}

/// Whether a ListRooms summary could still be `desired`. Summaries lack the two message limits,
/// so a `true` here is only trusted together with an unchanged `updateTime`.
pub fn summary_matches(desired: &DesiredRoom, summary: &RoomSummary) -> bool {
    summary.name == desired.fields.name
        && effective_handler(&summary.message_review_handler)
            == effective_handler(&desired.fields.message_review_handler)
        && same_arns(
            &summary.logging_configuration_arns,
            &desired.fields.logging_configuration_arns,
        )
        && tag_delta(&desired.tags, &summary.tags) == (Tags::new(), vec![])
}

/// The status fields that describe the room itself (conditions and generation are set by the
/// caller from the outcome of the reconcile).
pub fn observed_status(
    previous: Option<&ChatRoomStatus>,
    room: &Room,
    region: &str,
) -> ChatRoomStatus {
    let mut status = previous.cloned().unwrap_or_default();
    status.arn = Some(room.arn.clone());
    status.id = Some(if room.id.is_empty() {
        id_from_arn(&room.arn).to_string()
    } else {
        room.id.clone()
    });
    status.region = Some(region.to_string());
    status.create_time = room.create_time.clone();
    status.update_time = room.update_time.clone();
    status.logging_configuration_arns = (!room.logging_configuration_arns.is_empty())
        .then(|| room.logging_configuration_arns.clone());
    status
}

/// What AWS does with each action, as far as the fields we manage are concerned. Used to prove
/// (in tests) that executing a plan yields the desired room.
pub fn simulate(observed: Option<&Room>, actions: &[RoomAction]) -> Option<Room> {
    let mut room = observed.cloned();
    for action in actions {
        match action {
            RoomAction::Create(create) => {
                room = Some(Room {
                    arn: "arn:aws:ivschat:us-east-1:123456789012:room/simulated000".into(),
                    id: "simulated000".into(),
                    name: create.fields.name.clone(),
                    maximum_message_length: create.fields.maximum_message_length,
                    maximum_message_rate_per_second: create.fields.maximum_message_rate_per_second,
                    message_review_handler: create.fields.message_review_handler.clone(),
                    logging_configuration_arns: create.fields.logging_configuration_arns.clone(),
                    tags: create.tags.clone(),
                    create_time: None,
                    update_time: None,
                })
            }
            RoomAction::Update(update) => {
                let room = room.as_mut()?;
                if let Some(name) = &update.name {
                    room.name = name.clone();
                }
                if let Some(v) = update.maximum_message_length {
                    room.maximum_message_length = v;
                }
                if let Some(v) = update.maximum_message_rate_per_second {
                    room.maximum_message_rate_per_second = v;
                }
                if let Some(h) = &update.message_review_handler {
                    room.message_review_handler = (!h.uri.is_empty()).then(|| h.clone());
                }
                if let Some(arns) = &update.logging_configuration_arns {
                    room.logging_configuration_arns = arns.clone();
                }
            }
            RoomAction::Tag(tags) => room.as_mut()?.tags.extend(tags.clone()),
            RoomAction::Untag(keys) => {
                let room = room.as_mut()?;
                keys.iter().for_each(|k| {
                    room.tags.remove(k);
                })
            }
        }
    }
    room
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{FallbackResult, MessageReviewHandler};
    use proptest::prelude::*;

    fn owner() -> Owner {
        Owner {
            cluster: "c".into(),
            namespace: "ns".into(),
            name: "lobby".into(),
            uid: "uid-1".into(),
        }
    }

    fn desired(spec: &ChatRoomSpec, arns: Vec<String>) -> DesiredRoom {
        desired_room("lobby", spec, arns, &Tags::new(), &owner()).expect("valid")
    }

    fn room_from(d: &DesiredRoom) -> Room {
        simulate(None, &plan_room(d, None)).expect("created")
    }

    const LAMBDA: &str = "arn:aws:lambda:us-east-1:123456789012:function:review";

    #[test]
    fn empty_spec_gets_aws_defaults_and_object_name() {
        let d = desired(&ChatRoomSpec::default(), vec![]);
        assert_eq!(d.fields.name, "lobby");
        assert_eq!(d.fields.maximum_message_length, 500);
        assert_eq!(d.fields.maximum_message_rate_per_second, 10);
        assert_eq!(d.fields.message_review_handler, None);
        assert_eq!(d.tags, owner().tags());
    }

    #[test]
    fn no_room_means_one_create_with_every_tag() {
        let spec = ChatRoomSpec {
            tags: Some(Tags::from([("a".into(), "b".into())])),
            ..Default::default()
        };
        let d = desired(&spec, vec![]);
        let plan = plan_room(&d, None);
        assert_eq!(plan.len(), 1);
        let RoomAction::Create(create) = &plan[0] else {
            panic!("expected create, got {plan:?}")
        };
        assert_eq!(create.tags.get("a").map(String::as_str), Some("b"));
        assert_eq!(create.fields, d.fields);
    }

    #[test]
    fn in_sync_room_needs_nothing() {
        let d = desired(&ChatRoomSpec::default(), vec![]);
        assert!(plan_room(&d, Some(&room_from(&d))).is_empty());
    }

    #[test]
    fn update_carries_only_changed_fields() {
        let before = desired(&ChatRoomSpec::default(), vec![]);
        let room = room_from(&before);
        let after = desired(
            &ChatRoomSpec {
                maximum_message_length: Some(123),
                ..Default::default()
            },
            vec![],
        );
        assert_eq!(
            plan_room(&after, Some(&room)),
            vec![RoomAction::Update(RoomUpdate {
                maximum_message_length: Some(123),
                ..Default::default()
            })]
        );
    }

    #[test]
    fn removing_the_handler_sends_an_empty_uri() {
        let with = ChatRoomSpec {
            message_review_handler: Some(MessageReviewHandler {
                uri: LAMBDA.into(),
                fallback_result: Some(FallbackResult::Deny),
            }),
            ..Default::default()
        };
        let room = room_from(&desired(&with, vec![]));
        assert_eq!(
            room.message_review_handler
                .as_ref()
                .map(|h| h.fallback_result.as_str()),
            Some("DENY")
        );
        let plan = plan_room(&desired(&ChatRoomSpec::default(), vec![]), Some(&room));
        let [RoomAction::Update(update)] = plan.as_slice() else {
            panic!("{plan:?}")
        };
        assert_eq!(
            update
                .message_review_handler
                .as_ref()
                .map(|h| h.uri.as_str()),
            Some("")
        );
        assert_eq!(update.name, None);
    }

    #[test]
    fn handler_with_default_fallback_equals_explicit_allow() {
        let implicit = ChatRoomSpec {
            message_review_handler: Some(MessageReviewHandler {
                uri: LAMBDA.into(),
                fallback_result: None,
            }),
            ..Default::default()
        };
        let explicit = ChatRoomSpec {
            message_review_handler: Some(MessageReviewHandler {
                uri: LAMBDA.into(),
                fallback_result: Some(FallbackResult::Allow),
            }),
            ..Default::default()
        };
        let room = room_from(&desired(&implicit, vec![]));
        assert!(plan_room(&desired(&explicit, vec![]), Some(&room)).is_empty());
    }

    #[test]
    fn logging_configurations_go_a_ab_c_empty() {
        let arn =
            |s: &str| format!("arn:aws:ivschat:us-east-1:123456789012:logging-configuration/{s}");
        let steps = [
            vec![arn("a")],
            vec![arn("a"), arn("b")],
            vec![arn("c")],
            vec![],
        ];
        let mut room = room_from(&desired(&ChatRoomSpec::default(), vec![]));
        for step in steps {
            let d = desired(&ChatRoomSpec::default(), step.clone());
            let plan = plan_room(&d, Some(&room));
            assert_eq!(
                plan,
                vec![RoomAction::Update(RoomUpdate {
                    logging_configuration_arns: Some(step.clone()),
                    ..Default::default()
                })]
            );
            room = simulate(Some(&room), &plan).expect("room");
            assert_eq!(room.logging_configuration_arns, step);
        }
    }

    #[test]
    fn reordered_logging_configurations_are_in_sync() {
        let arn =
            |s: &str| format!("arn:aws:ivschat:us-east-1:123456789012:logging-configuration/{s}");
        let room = room_from(&desired(&ChatRoomSpec::default(), vec![arn("a"), arn("b")]));
        assert!(
            plan_room(
                &desired(&ChatRoomSpec::default(), vec![arn("b"), arn("a")]),
                Some(&room)
            )
            .is_empty()
        );
    }

    #[test]
    fn tag_changes_use_tag_calls_only() {
        let room = room_from(&desired(
            &ChatRoomSpec {
                tags: Some(Tags::from([
                    ("keep".into(), "1".into()),
                    ("drop".into(), "x".into()),
                ])),
                ..Default::default()
            },
            vec![],
        ));
        let d = desired(
            &ChatRoomSpec {
                tags: Some(Tags::from([
                    ("keep".into(), "2".into()),
                    ("new".into(), "y".into()),
                ])),
                ..Default::default()
            },
            vec![],
        );
        assert_eq!(
            plan_room(&d, Some(&room)),
            vec![
                RoomAction::Tag(Tags::from([
                    ("keep".into(), "2".into()),
                    ("new".into(), "y".into())
                ])),
                RoomAction::Untag(vec!["drop".into()]),
            ]
        );
    }

    #[test]
    fn summary_match_ignores_limits_but_not_tags() {
        let d = desired(&ChatRoomSpec::default(), vec![]);
        let room = room_from(&d);
        let summary = RoomSummary {
            arn: room.arn.clone(),
            id: room.id.clone(),
            name: room.name.clone(),
            message_review_handler: None,
            logging_configuration_arns: vec![],
            tags: room.tags.clone(),
            update_time: None,
        };
        assert!(summary_matches(&d, &summary));
        let mut tagged = summary.clone();
        tagged.tags.insert("extra".into(), "1".into());
        assert!(!summary_matches(&d, &tagged));
        let mut renamed = summary;
        renamed.name = "other".into();
        assert!(!summary_matches(&d, &renamed));
    }

    #[test]
    fn observed_status_copies_identity_and_times() {
        let mut room = room_from(&desired(&ChatRoomSpec::default(), vec![]));
        room.create_time = Some("2026-01-01T00:00:00.000Z".into());
        room.update_time = Some("2026-01-02T00:00:00.000Z".into());
        let status = observed_status(None, &room, "eu-west-1");
        assert_eq!(status.arn.as_deref(), Some(room.arn.as_str()));
        assert_eq!(status.id.as_deref(), Some("simulated000"));
        assert_eq!(status.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            status.update_time.as_deref(),
            Some("2026-01-02T00:00:00.000Z")
        );
        assert_eq!(status.logging_configuration_arns, None);
    }

    fn arb_spec() -> impl Strategy<Value = (ChatRoomSpec, Vec<String>)> {
        let handler = prop_oneof![
            Just(None),
            Just(Some(MessageReviewHandler {
                uri: LAMBDA.into(),
                fallback_result: None
            })),
            Just(Some(MessageReviewHandler {
                uri: LAMBDA.into(),
                fallback_result: Some(FallbackResult::Deny)
            })),
            Just(Some(MessageReviewHandler {
                uri: String::new(),
                fallback_result: None
            })),
        ];
        let tags = proptest::collection::btree_map("[a-c]{1,2}", "[x-z]{0,2}", 0..5);
        let arns = proptest::sample::subsequence(
            vec!["l1".to_string(), "l2".into(), "l3".into(), "l4".into()],
            0..=3,
        );
        (
            proptest::option::of("[a-z_-]{0,8}"),
            proptest::option::of(1..=500i32),
            proptest::option::of(1..=100i32),
            handler,
            proptest::option::of(tags),
            arns,
        )
            .prop_map(|(name, len, rate, handler, tags, arns)| {
                (
                    ChatRoomSpec {
                        name,
                        maximum_message_length: len,
                        maximum_message_rate_per_second: rate,
                        message_review_handler: handler,
                        tags,
                        ..Default::default()
                    },
                    arns,
                )
            })
    }

    proptest! {
        /// Applying the plan to any observed room yields the desired room, and then the plan is empty.
        #[test]
        fn plan_converges((from, from_arns) in arb_spec(), (to, to_arns) in arb_spec(), exists in any::<bool>()) {
            let observed = exists.then(|| room_from(&desired(&from, from_arns)));
            let want = desired(&to, to_arns);
            let plan = plan_room(&want, observed.as_ref());
            let after = simulate(observed.as_ref(), &plan).expect("room exists after plan");
            prop_assert!(plan_room(&want, Some(&after)).is_empty(), "not converged: {:?}", after);
            prop_assert_eq!(after.tags, want.tags.clone());
            prop_assert_eq!(&after.name, &want.fields.name);
            prop_assert_eq!(after.maximum_message_length, want.fields.maximum_message_length);
            // No UpdateRoom unless a room field differs; never more than one of each call.
            let updates = plan.iter().filter(|a| matches!(a, RoomAction::Update(_))).count();
            prop_assert!(updates <= 1);
            if let Some(observed) = &observed {
                prop_assert_eq!(updates == 1, !room_update(&want.fields, observed).is_empty());
            }
        }
    }
}
