package cli

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/ticksync/ticksync/server"
)

// recordFlags are serve's recording flags (docs/operations.md, "Recordings").
type recordFlags struct {
	record, requireRecording bool
	recordDir                string
	recordKeep               int
}

func (f *recordFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.record, "record", true, "record every room's match to -record-dir (replay with 'ticksync replay')")
	fs.StringVar(&f.recordDir, "record-dir", "./recordings", "`directory` of recordings, created when the first one starts")
	fs.IntVar(&f.recordKeep, "record-keep", server.DefaultRecordKeep, "keep the newest `n` recordings, deleting older ones when a recording starts or ends (0: keep all)")
	fs.BoolVar(&f.requireRecording, "require-recording", false, "a room whose recording cannot start refuses to start (POST /rooms: 503, join-create: 1011), and one whose recording fails mid-match ends with 1011")
}

// apply sets cfg's recorder (and GET /replays to the recordings) from the flags.
func (f *recordFlags) apply(cfg *server.Config, log *slog.Logger) error {
	if !f.record {
		if f.requireRecording {
			return errors.New("-require-recording needs -record")
		}
		return nil
	}
	if f.recordKeep < 0 {
		return fmt.Errorf("-record-keep %d: want 0 (keep all) or more", f.recordKeep)
	}
	keep := f.recordKeep
	if keep == 0 {
		keep = -1
	}
	newRec, err := server.NewFileRecorder(server.FileRecorderOptions{Dir: f.recordDir, Keep: keep, Logger: log})
	if err != nil {
		return err
	}
	cfg.NewRecorder, cfg.RequireRecording = newRec, f.requireRecording
	log.Info("recording matches", "dir", f.recordDir, "keep", f.recordKeep, "required", f.requireRecording)
	if cfg.Replays == nil {
		cfg.Replays = server.ReplayDir(f.recordDir)
	}
	return nil
}
