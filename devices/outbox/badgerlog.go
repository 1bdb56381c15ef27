package outbox

import (
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger routes badger's printf logs to slog; badger's info chatter
// goes to debug.
type badgerLogger struct{ log *slog.Logger }

func (l badgerLogger) Errorf(f string, a ...any)   { l.log.Error(msg(f, a)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.log.Warn(msg(f, a)) }
func (l badgerLogger) Infof(f string, a ...any)    { l.log.Debug(msg(f, a)) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.log.Debug(msg(f, a)) }

func msg(f string, a []any) string { return strings.TrimSpace(fmt.Sprintf(f, a...)) }
