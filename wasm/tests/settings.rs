//! Every scenario setting has the core's default, is checked against a
//! bound (the hub's by `HubConfig::validate`) or saturates, and no value
//! panics the simulator or makes it run forever.

use tcphub_core::HubConfig;
use tcphub_wasm::sim::{presets, HubSettings, Scenario, SimError, Simulator};

#[test]
fn hub_settings_default_to_the_cores_defaults() {
    assert_eq!(
        HubSettings::default().to_config().unwrap(),
        HubConfig::default()
    );
    assert_eq!(
        Scenario::from_json("{}").unwrap().hub,
        HubSettings::default()
    );
    let config = HubConfig {
        write_deadline: None,
        frame_timeout: None,
        ..HubConfig::default()
    };
    assert_eq!(
        HubSettings::from_config(&config).to_config().unwrap(),
        config
    );
}

#[test]
fn limits_pass_through_and_stay_out_of_a_save_when_off() {
    let config = HubConfig {
        rate_limit_messages: Some(10),
        rate_limit_message_burst: Some(20),
        rate_limit_bytes: Some(1 << 20),
        rate_limit_bytes_burst: Some(1 << 21),
        max_connections_per_address: Some(3),
        ..HubConfig::default()
    };
    assert_eq!(
        HubSettings::from_config(&config).to_config().unwrap(),
        config
    );
    let s = Scenario::from_json(r#"{"hub":{"rate_limit_messages":5}}"#).unwrap();
    assert_eq!(s.hub.to_config().unwrap().rate_limit_messages, Some(5));
    let saved = Scenario::from_json("{}").unwrap().to_json();
    assert!(!saved.contains("rate_limit"), "{saved}");
}

#[test]
fn null_turns_a_deadline_off_and_survives_a_save() {
    let s =
        Scenario::from_json(r#"{"hub":{"write_deadline_ms":null,"frame_timeout_ms":5}}"#).unwrap();
    assert_eq!(s.hub.write_deadline_ms, None);
    assert_eq!(s.hub.frame_timeout_ms, Some(5));
    let saved = s.to_json();
    assert!(saved.contains(r#""write_deadline_ms": null"#), "{saved}");
    assert_eq!(Scenario::from_json(&saved).unwrap().hub, s.hub);
}

/// Scenario JSON with one field of one section set to `value`.
fn with(section: &str, field: &str, value: &str) -> String {
    format!(r#"{{"{section}":{{"{field}":{value}}}}}"#)
}

#[test]
fn out_of_range_settings_are_errors_that_name_them() {
    let big = u64::MAX.to_string();
    let too_big_for_json = "1e40";
    let cases = [
        ("hub", "max_frame_len", "0"),
        ("hub", "max_frame_len", big.as_str()),
        ("hub", "max_sessions", "0"),
        ("hub", "max_list_rows", "0"),
        ("hub", "max_list_rows", big.as_str()),
        ("hub", "max_queued_bytes", "0"),
        ("hub", "max_queued_bytes", big.as_str()),
        ("hub", "high_watermark", "0"),
        ("hub", "low_watermark", big.as_str()),
        ("hub", "high_watermark", big.as_str()),
        ("hub", "write_deadline_ms", "0"),
        ("hub", "frame_timeout_ms", "0"),
        ("hub", "idle_timeout_ms", "0"),
        ("hub", "idle_timeout_ms", "-1"),
        ("hub", "write_deadline_ms", too_big_for_json),
        ("hub", "rate_limit_messages", "0"),
        ("hub", "rate_limit_messages", big.as_str()),
        ("hub", "rate_limit_message_burst", "5"),
        ("hub", "rate_limit_bytes", big.as_str()),
        ("hub", "max_connections_per_address", "0"),
        ("network", "latency_ms", big.as_str()),
        ("network", "socket_buffer_bytes", "0"),
        ("network", "socket_buffer_bytes", big.as_str()),
        ("faults", "max_delay_ms", big.as_str()),
        ("faults", "split", "101"),
        ("faults", "stall", "1000"),
    ];
    for (section, field, value) in cases {
        let json = with(section, field, value);
        let err = match Scenario::from_json(&json) {
            Ok(_) => panic!("{json} was accepted"),
            Err(err) => err,
        };
        assert!(
            matches!(err, SimError::Scenario(_) | SimError::Hub(_)),
            "{json}: {err:?}"
        );
        // The message names the setting (the watermarks' cross-checks name
        // the other side of the comparison, which is just as clear); a
        // value of the wrong JSON type is pointed at by its position.
        let text = err.to_string();
        let named = text.contains(field)
            || text.contains("expected u") && text.contains("column")
            || (field.ends_with("watermark") && text.contains("watermark"))
            || (field == "high_watermark" && text.contains("max_queued_bytes"));
        assert!(named, "{json}: {text}");
        // The same through the simulator's constructor.
        if let Ok(scenario) = serde_json::from_str::<Scenario>(&json) {
            assert!(Simulator::new(scenario).is_err(), "{json}");
        }
    }
}

#[test]
fn a_saved_scenario_with_the_old_queue_setting_says_where_it_went() {
    let err = Scenario::from_json(r#"{"network":{"max_queued_bytes":2048}}"#).unwrap_err();
    assert!(err.to_string().contains("hub.max_queued_bytes"), "{err}");
}

#[test]
fn extreme_values_that_are_accepted_run_to_the_end() {
    let big = u64::MAX;
    let json = format!(
        r#"{{
        "hub": {{"idle_timeout_ms": {big}, "write_deadline_ms": {big}, "frame_timeout_ms": {big}}},
        "network": {{"latency_ms": {day}, "socket_buffer_bytes": 1}},
        "faults": {{"enabled": true, "max_delay_ms": {day}, "split": 100, "join": 100, "drop": 100, "stall": 100}},
        "steps": [
            {{"action": "connect", "client": "a"}},
            {{"action": "connect", "client": "b"}},
            {{"action": "stop_reading", "client": "b"}},
            {{"action": "broadcast", "message": "x"}},
            {{"action": "wait", "ms": {big}}},
            {{"action": "send", "client": "a", "to": "*", "message": "late"}},
            {{"at": {big}, "action": "broadcast", "message": "at the end of time"}},
            {{"action": "wait", "ms": {big}}},
            {{"action": "connect", "client": "c"}},
            {{"action": "ping", "client": "c"}}
        ]}}"#,
        day = tcphub_wasm::sim::MAX_DELAY_MS,
    );
    let mut sim = Simulator::from_json(&json).unwrap();
    sim.run(1_000_000);
    assert!(sim.is_done(), "still running after a million steps");
    assert_eq!(sim.now(), u64::MAX, "virtual time saturates");
}

#[test]
fn a_one_byte_socket_still_delivers_everything() {
    let mut scenario = presets::tutorial();
    scenario.network.socket_buffer_bytes = 1;
    let sim = {
        let mut sim = Simulator::new(scenario).unwrap();
        sim.run_to_end();
        sim
    };
    let clean = {
        let mut sim = Simulator::new(presets::tutorial()).unwrap();
        sim.run_to_end();
        sim
    };
    assert_eq!(sim.stats().deliveries, clean.stats().deliveries);
    assert_eq!(sim.stats().info_deliveries, 4);
}

#[test]
fn every_preset_is_named_by_its_key_and_listed_in_errors() {
    for (name, make) in presets::PRESETS {
        assert_eq!(make().name, name);
        assert_eq!(presets::preset(name).unwrap().name, name);
        make().validate().unwrap();
    }
    assert_eq!(presets::PRESET_NAMES.len(), presets::PRESETS.len());
    let err = SimError::UnknownPreset("nope".into()).to_string();
    for name in presets::PRESET_NAMES {
        assert!(err.contains(name), "{err}");
    }
}
