# %preun ($1 = 0 on erase): stop and disable. The history stays: rpm has no purge, delete
# /var/lib/ipctrail by hand if it is no longer wanted.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now ipctrail.service >/dev/null 2>&1 || :
fi
exit 0
