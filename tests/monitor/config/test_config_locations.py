"""Locations and quorum in the configuration: the top-level ``locations``, each monitor's
``locations``, ``quorum`` and ``partial_alerts`` (and in ``defaults``), the checks across
the file, and the instance's own location (``--location``, ``TETHER_LOCATION``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.config_text import URL, dump, errors_of
from tether.cli import main
from tether.monitor.config import LocationError, parse_config, resolve_location

THREE = ["eu-west", "us-east", "local"]


def monitor(name: str = "api", **fields: Any) -> dict[str, Any]:
    return {"name": name, "url": URL, **fields}


# --- what loads --------------------------------------------------------------------------


def test_a_file_without_locations_has_one_called_local() -> None:
    """No ``locations`` anywhere: one location, local; each monitor is probed from it, with
    the majority quorum (1 of 1) and no partial alerts: a single instance as before."""
    config = parse_config(dump())
    assert config.locations == ("local",)
    api = config.monitors[0]
    assert (api.locations, api.quorum, api.partial_alerts) == (("local",), "majority", False)


def test_a_monitor_without_locations_gets_every_location_in_the_files_order() -> None:
    """Loaded, ``monitor.locations`` is always the list: left out, every location."""
    config = parse_config(dump(monitor(), locations=THREE))
    assert config.monitors[0].locations == ("eu-west", "us-east", "local")


def test_defaults_give_locations_quorum_and_partial_alerts_unless_the_monitor_sets_them() -> None:
    """``defaults`` fill the three keys as any other; a monitor's own value wins."""
    config = parse_config(
        dump(
            monitor("api"),
            monitor("db", locations=["local"], quorum=1, partial_alerts=False),
            locations=THREE,
            defaults={"locations": ["eu-west", "us-east"], "quorum": 2, "partial_alerts": True},
        )
    )
    api, db = config.monitors
    assert (api.locations, api.quorum, api.partial_alerts) == (("eu-west", "us-east"), 2, True)
    assert (db.locations, db.quorum, db.partial_alerts) == (("local",), 1, False)


@pytest.mark.parametrize(
    ("written", "read"), [("majority", "majority"), (2, 2), ("2", 2), (" 3 ", 3), (1, 1)]
)
def test_quorum_is_a_whole_number_or_majority(written: object, read: object) -> None:
    """A number of locations (written as a number or as digits, as counts are) or majority."""
    config = parse_config(dump(monitor(quorum=written), locations=THREE))
    assert config.monitors[0].quorum == read


def test_a_single_name_is_a_list_of_one() -> None:
    """``locations: eu-west`` is ``[eu-west]``, at the top and on a monitor."""
    config = parse_config(dump(monitor(locations="eu-west"), locations="eu-west"))
    assert config.locations == ("eu-west",)
    assert config.monitors[0].locations == ("eu-west",)


# --- what is refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quorum", "message"),
    [
        (0, "monitors[0].quorum: 0 is too small: the minimum is 1 location (or write majority)"),
        (-1, "monitors[0].quorum: -1 is too small: the minimum is 1 location (or write majority)"),
        ("most", 'monitors[0].quorum: "most" is not a whole number of locations, nor majority'),
        (
            "Majority",
            'monitors[0].quorum: "Majority" is not a whole number of locations, nor majority',
        ),
        (True, "monitors[0].quorum: true is not a whole number of locations, nor majority"),
        (2.5, "monitors[0].quorum: 2.5 is not a whole number of locations, nor majority"),
        (None, "monitors[0].quorum: null is not a whole number of locations, nor majority"),
        (10**7, "monitors[0].quorum: 10000000 is too large: the maximum is 1000000"),
    ],
)
def test_quorum_refuses_what_is_not_a_count_or_majority(quorum: object, message: str) -> None:
    """Each wrong quorum is one line naming its key path and the value as written."""
    assert errors_of(dump(monitor(quorum=quorum), locations=THREE)) == [message]


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {"locations": []},
            "locations: is empty: list at least one location, or leave the key out",
        ),
        (
            {"locations": None},
            "locations: is empty: list at least one location, or leave the key out",
        ),
        (
            {"locations": ["eu-west", " us-east"]},
            'locations[1]: " us-east" starts or ends with spaces',
        ),
        ({"locations": [""]}, "locations[0]: is empty: give a name"),
        ({"locations": {"eu": 1}}, "locations: a mapping is not a list"),
        (
            {"defaults": {"locations": []}},
            "defaults.locations: is empty: list at least one location, or leave the key out",
        ),
        (
            {"defaults": {"partial_alerts": "sometimes"}},
            'defaults.partial_alerts: "sometimes" is not true or false',
        ),
    ],
)
def test_location_lists_are_checked_as_names_are(sections: dict[str, Any], message: str) -> None:
    """Location names follow the rules of monitor names; a list is never empty."""
    assert errors_of(dump(**sections)) == [message]


def test_a_monitor_may_not_list_no_locations() -> None:
    """``locations: []`` on a monitor is a mistake, not "nowhere": leave the key out."""
    assert errors_of(dump(monitor(locations=[]), locations=THREE)) == [
        "monitors[0].locations: is empty: list at least one location, or leave the key out"
    ]


def test_unknown_and_repeated_locations_are_named_with_their_path() -> None:
    """A location not listed at the top is refused (with a did-you-mean when one is close),
    and one listed twice would count twice towards a quorum."""
    text = dump(
        monitor("api", locations=["eu-wst", "us-east"]),
        monitor("db", locations=["paris"]),
        monitor("web", locations=["local", "local"]),
        locations=[*THREE, "eu-west"],
        defaults={"locations": ["mars"]},
    )
    assert errors_of(text) == [
        'locations[3]: "eu-west" is listed twice (first at [0])',
        'defaults.locations[0]: no location named "mars"; list it under locations at the top '
        "of the file",
        'monitors[0].locations[0]: no location named "eu-wst", did you mean eu-west?',
        'monitors[1].locations[0]: no location named "paris"; list it under locations at the '
        "top of the file",
        'monitors[2].locations[1]: "local" is listed twice (first at [0])',
    ]


def test_a_quorum_larger_than_the_monitors_locations_is_refused_where_it_is_written() -> None:
    """A quorum no outage could reach: said at the monitor's quorum when it sets it, at its
    locations when they are its own and the quorum is inherited, and once at
    defaults.quorum when the monitor inherits both."""
    text = dump(
        monitor("own", quorum=4),
        monitor("fewer", locations=["eu-west"]),
        monitor("inherits"),
        monitor("fits", locations=["eu-west", "us-east"], quorum="majority"),
        locations=THREE,
        defaults={"quorum": 2},
    )
    assert errors_of(text) == [
        "monitors[0].quorum: 4 is more than the monitor's 3 locations (eu-west, us-east, "
        "local): no outage could ever reach it",
        "monitors[1].locations: 1 location (eu-west), fewer than the quorum of 2 from "
        "defaults.quorum: no outage could ever reach it; set quorum on this monitor",
    ]


def test_defaults_quorum_is_checked_against_the_locations_a_monitor_would_inherit() -> None:
    """defaults.quorum larger than defaults.locations, or than the file's locations."""
    assert errors_of(
        dump(locations=THREE, defaults={"quorum": 3, "locations": ["eu-west", "us-east"]})
    ) == [
        "defaults.quorum: 3 is more than the 2 locations (eu-west, us-east) of "
        "defaults.locations: no outage could ever reach it"
    ]
    assert errors_of(dump(defaults={"quorum": 2})) == [
        "defaults.quorum: 2 is more than the 1 location (local) at the top of the file: no "
        "outage could ever reach it"
    ]


def test_an_own_quorum_against_locations_from_defaults_says_where_they_come_from() -> None:
    """The monitor sets quorum, its locations come from defaults: the message says so."""
    text = dump(monitor(quorum=3), locations=THREE, defaults={"locations": ["eu-west", "local"]})
    assert errors_of(text) == [
        "monitors[0].quorum: 3 is more than the monitor's 2 locations (eu-west, local), from "
        "defaults.locations: no outage could ever reach it"
    ]


def test_check_config_reports_location_mistakes_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tether check-config`` shows the cross-checks as every other error: FILE:LINE:COL."""
    path = tmp_path / "tether.yaml"
    path.write_text(
        "locations: [eu-west, us-east]\n"
        "monitors:\n"
        f"  - {{name: api, url: '{URL}', locations: [eu-west, us-wst], quorum: 3}}\n"
    )
    assert main(["check-config", str(path)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f'{path}:3:75: monitors[0].locations[1]: no location named "us-wst", did you mean us-east?',
        f"{path}:3:84: monitors[0].quorum: 3 is more than the monitor's 2 locations (eu-west, "
        "us-wst): no outage could ever reach it",
    ]


# --- this instance's location ------------------------------------------------------------


@pytest.fixture
def three() -> Any:
    return parse_config(dump(locations=THREE))


def test_the_only_location_needs_no_flag() -> None:
    """A file of one location (``local`` when it names none) is that location's."""
    assert resolve_location(parse_config(dump()), env={}) == "local"
    assert resolve_location(parse_config(dump(locations=["eu-west"])), env={}) == "eu-west"


def test_flag_then_environment(three: Any) -> None:
    """``--location`` wins over ``TETHER_LOCATION``, which is used without it; an empty
    variable counts as unset."""
    env = {"TETHER_LOCATION": "us-east"}
    assert resolve_location(three, "eu-west", env) == "eu-west"
    assert resolve_location(three, None, env) == "us-east"
    with pytest.raises(LocationError, match="is not set"):
        resolve_location(three, None, {"TETHER_LOCATION": ""})


def test_the_environment_is_read_by_default(three: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``env``, ``os.environ``."""
    monkeypatch.setenv("TETHER_LOCATION", "local")
    assert resolve_location(three) == "local"


def test_several_locations_and_none_given_is_one_clear_line(three: Any) -> None:
    """An instance that does not say where it runs is refused, not guessed."""
    with pytest.raises(LocationError) as caught:
        resolve_location(three, env={})
    assert str(caught.value) == (
        "this instance's location is not set: give --location NAME or TETHER_LOCATION, one of "
        "eu-west, us-east, local"
    )


@pytest.mark.parametrize(
    ("given", "env", "message"),
    [
        ("eu-wst", {}, '--location "eu-wst" is not a location of the file, did you mean eu-west?'),
        (
            None,
            {"TETHER_LOCATION": "paris"},
            'TETHER_LOCATION "paris" is not a location of the '
            "file; the file's locations are eu-west, us-east, local",
        ),
    ],
)
def test_a_location_not_in_the_file_is_refused(
    three: Any, given: str | None, env: dict[str, str], message: str
) -> None:
    """The name must be one of the file's, and the line says where it came from."""
    with pytest.raises(LocationError) as caught:
        resolve_location(three, given, env)
    assert str(caught.value) == message
    assert "\n" not in message
