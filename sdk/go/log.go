package canopy

import (
	"fmt"
	"strconv"
	"unsafe"
)

// Level is the severity of a log line, as the task ABI numbers it.
type Level int32

// Log levels.
const (
	LevelDebug Level = 0
	LevelInfo  Level = 1
	LevelWarn  Level = 2
	LevelError Level = 3
)

// String returns "debug", "info", "warn", "error", or "level(N)".
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Log writes one log line at the given level. It allocates nothing and
// never fails: the host drops lines past the task's logRate limit (and
// counts them), and truncates very long ones. The message should be one
// line; see [Info] for structured key-value lines.
func Log(level Level, msg string) {
	hostLog(int32(level), unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}

// Debug logs msg at debug level with optional key-value pairs, in the manner
// of log/slog:
//
//	canopy.Debug("reading", "sensor", id, "value", v)
//
// writes the line `reading sensor=s1 value=21.5`. Keys are strings; values
// are formatted with strconv for the basic types and fmt.Sprint otherwise,
// and quoted when they contain spaces, quotes or '='. A key without a value
// is written as !BADKEY=key, as slog does.
func Debug(msg string, args ...any) { logKV(LevelDebug, msg, args) }

// Info logs msg at info level with optional key-value pairs; see [Debug].
func Info(msg string, args ...any) { logKV(LevelInfo, msg, args) }

// Warn logs msg at warn level with optional key-value pairs; see [Debug].
func Warn(msg string, args ...any) { logKV(LevelWarn, msg, args) }

// Error logs msg at error level with optional key-value pairs; see [Debug].
// An error value is written with its Error text:
//
//	canopy.Error("publish failed", "err", err)
func Error(msg string, args ...any) { logKV(LevelError, msg, args) }

// Logf logs a fmt.Sprintf-formatted message at the given level, for those
// who prefer printf style.
func Logf(level Level, format string, args ...any) {
	Log(level, fmt.Sprintf(format, args...))
}

func logKV(level Level, msg string, args []any) {
	if len(args) == 0 {
		Log(level, msg)
		return
	}
	b := make([]byte, 0, len(msg)+16*len(args))
	b = appendLine(b, msg, args)
	hostLog(int32(level), unsafe.Pointer(unsafe.SliceData(b)), int32(len(b)))
}

// appendLine appends msg and the key-value pairs of args to b, slog text
// style.
func appendLine(b []byte, msg string, args []any) []byte {
	b = append(b, msg...)
	for len(args) > 0 {
		key, ok := args[0].(string)
		var val any
		if !ok || len(args) == 1 {
			key, val, args = "!BADKEY", args[0], args[1:]
		} else {
			val, args = args[1], args[2:]
		}
		b = append(b, ' ')
		b = append(b, key...)
		b = append(b, '=')
		b = appendValue(b, val)
	}
	return b
}

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendText(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int32:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(b, v, 10)
	case float32:
		return strconv.AppendFloat(b, float64(v), 'g', -1, 32)
	case float64:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case bool:
		return strconv.AppendBool(b, v)
	case []byte:
		return appendText(b, string(v))
	case error:
		if v == nil {
			return append(b, "<nil>"...)
		}
		return appendText(b, v.Error())
	case nil:
		return append(b, "<nil>"...)
	}
	return appendText(b, fmt.Sprint(v))
}

// appendText appends s, quoted if it is empty or holds a character that
// would make the line ambiguous.
func appendText(b []byte, s string) []byte {
	if needsQuote(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '=' || c == '"' || c == 0x7f || c >= 0x80 {
			return true
		}
	}
	return false
}
