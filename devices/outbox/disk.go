package outbox

import "golang.org/x/sys/unix"

// lowDisk reports whether the filesystem under Dir has less than
// MinFreeDisk available to unprivileged writers.
func (o *Outbox) lowDisk() bool {
	if o.cfg.MinFreeDisk < 0 {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs(o.cfg.Dir, &st); err != nil {
		o.log.Warn("statfs failed; assuming space", "err", err)
		return false
	}
	return int64(st.Bavail)*int64(st.Bsize) < o.cfg.MinFreeDisk
}
