#!/usr/bin/env python3
"""Prints every control of an application's accessible tree (AT-SPI) that is showing and has
no name, one per line as `role @ path`. Used by the app's screen-reader suite; run with the
application's DISPLAY and DBUS_SESSION_BUS_ADDRESS. Exit status 2 if the application is not
found."""
import sys

import pyatspi

# Roles a candidate operates: each needs a name a screen reader can say.
CONTROLS = {
    pyatspi.ROLE_PUSH_BUTTON, pyatspi.ROLE_TOGGLE_BUTTON, pyatspi.ROLE_CHECK_BOX,
    pyatspi.ROLE_RADIO_BUTTON, pyatspi.ROLE_COMBO_BOX, pyatspi.ROLE_ENTRY,
    pyatspi.ROLE_PASSWORD_TEXT, pyatspi.ROLE_LINK, pyatspi.ROLE_SLIDER, pyatspi.ROLE_SPIN_BUTTON,
    pyatspi.ROLE_PROGRESS_BAR, pyatspi.ROLE_LEVEL_BAR, pyatspi.ROLE_IMAGE,
    pyatspi.ROLE_LIST_BOX, pyatspi.ROLE_MENU_ITEM,
}


def walk(node, path, out):
    try:
        states = node.getState()
        role = node.getRole()
        name = (node.name or "").strip()
        showing = states.contains(pyatspi.STATE_SHOWING)
    except Exception:  # an object that went away while walking
        return
    if not showing and role not in (pyatspi.ROLE_APPLICATION, pyatspi.ROLE_FRAME):
        return
    if role in CONTROLS and not name:
        # An image without a name is decorative only if it says so (no role then); report it.
        out.append(f"{node.getRoleName()} @ {path}")
    for i in range(node.childCount):
        child = node.getChildAtIndex(i)
        if child is not None:
            walk(child, f"{path}/{i}", out)


def main():
    app_name = sys.argv[1]
    desktop = pyatspi.Registry.getDesktop(0)
    apps = [a for a in desktop if a is not None and a.name == app_name]
    if not apps:
        names = [a.name for a in desktop if a is not None]
        print(f"no application {app_name!r} on the AT-SPI bus (there are {names})", file=sys.stderr)
        sys.exit(2)
    out = []
    for app in apps:
        walk(app, app.name, out)
    print("\n".join(out))


main()
