package main

import (
	"path/filepath"
	"strings"
)

// mountHelperName is the name under which mount(8) runs aindfs for
// filesystems of type aindfs (/etc/fstab, mount -t aindfs): a link to the
// program at /sbin/mount.aindfs.
const mountHelperName = "mount.aindfs"

// genericMountOptions are the options of /etc/fstab that are for mount(8)
// or that every aindfs mount has anyway (it is read-only); they are not
// passed on as flags.
var genericMountOptions = map[string]bool{
	"defaults": true, "auto": true, "noauto": true, "user": true, "users": true, "nouser": true,
	"owner": true, "group": true, "_netdev": true, "nofail": true, "ro": true, "rw": true,
	"exec": true, "noexec": true, "suid": true, "nosuid": true, "dev": true, "nodev": true,
	"sync": true, "async": true, "atime": true, "noatime": true, "relatime": true,
}

// commandLine returns the arguments of aindfs's command line for argv, the
// process's own. Run as mount.aindfs, mount(8) gives "SPEC DIR [-sfnv] [-o
// OPTIONS]": that becomes "mount --background --OPTION... DIR", an option
// a=b becoming --a=b with underscores as dashes (cache_size=4GiB is
// --cache-size=4GiB). SPEC names nothing; it only fills fstab's first field.
func commandLine(argv []string) []string {
	if len(argv) == 0 || filepath.Base(argv[0]) != mountHelperName {
		return argv[min(1, len(argv)):]
	}
	var dirs, flags []string
	args := argv[1:]
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" && i+1 < len(args):
			i++
			for _, opt := range strings.Split(args[i], ",") {
				key, value, hasValue := strings.Cut(opt, "=")
				if key == "" || genericMountOptions[key] || strings.HasPrefix(key, "x-") || key == "comment" {
					continue
				}
				flag := "--" + strings.ReplaceAll(key, "_", "-")
				if hasValue {
					flag += "=" + value
				}
				flags = append(flags, flag)
			}
		case a == "-t" && i+1 < len(args):
			i++ // the type: aindfs
		case strings.HasPrefix(a, "-") && len(a) > 1 && strings.Trim(a[1:], "sfnv") == "":
			// sloppy, fake, no mtab, verbose: nothing to do for aindfs.
		default:
			dirs = append(dirs, a)
		}
	}
	// dirs is SPEC DIR; anything else is left for mount's argument check.
	if len(dirs) > 0 {
		dirs = dirs[1:]
	}
	return append(append([]string{"mount", "--background"}, flags...), dirs...)
}
