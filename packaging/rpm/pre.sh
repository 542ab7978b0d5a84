# %pre: the service account exists before the files are laid down.
getent group ipctrail >/dev/null || groupadd -r ipctrail
getent passwd ipctrail >/dev/null ||
    useradd -r -g ipctrail -d /var/lib/ipctrail -M -s /sbin/nologin -c "ipctrail daemon" ipctrail
exit 0
