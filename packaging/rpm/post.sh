# %post ($1 = 1 on install, 2 on upgrade): enable and start on install. An upgrade restarts the
# service in %postun, once the old files are gone. /var/lib/ipctrail is owned by the package.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl enable --now ipctrail.service >/dev/null 2>&1 || :
    fi
fi
exit 0
