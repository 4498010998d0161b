// Offline Go builds against Debian's golang.org/x/mod, shared by the interop tests
// (test/interop/go.ts) and the sumdb/tlog benchmark (bench/gotlog.ts).
import { join } from 'node:path';

/** Where Debian's golang-golang-x-mod-dev puts the x/mod source. */
export const XMOD = '/usr/share/gocode/src/golang.org/x/mod';

/** The environment of an offline build in `work`: Debian's x/mod only, no network, caches in `work`. */
export function goBuildEnv(work: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOPROXY: 'off',
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    GOWORK: 'off',
    GO111MODULE: 'on',
    GOCACHE: join(work, 'gocache'),
    GOPATH: join(work, 'gopath'),
  };
}
