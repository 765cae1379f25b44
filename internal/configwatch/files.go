package configwatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fsnotify/fsnotify"
)

// watchFiles reads the mounted documents, then rereads them on any change
// in their folders. Watching the folder rather than the file is what
// survives the kubelet's update, which swaps the ..data symlink to a new
// timestamped folder: the file's own inode never changes, the link does.
func (w *Watcher) watchFiles(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching config files: %w", err)
	}
	dirs := map[string]bool{}
	for _, p := range []string{w.opts.ConfigFile, w.opts.CredentialsFile} {
		if p != "" && !dirs[filepath.Dir(p)] {
			dirs[filepath.Dir(p)] = true
			if err := fw.Add(filepath.Dir(p)); err != nil {
				return errors.Join(fmt.Errorf("watching %s: %w", filepath.Dir(p), err), fw.Close())
			}
		}
	}
	if err := w.readFiles(ctx); err != nil {
		return errors.Join(err, fw.Close())
	}
	go w.followFiles(ctx, fw)
	return nil
}

func (w *Watcher) followFiles(ctx context.Context, fw *fsnotify.Watcher) {
	defer fw.Close() //nolint:errcheck // the watch is over; a failed close changes nothing
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-fw.Errors:
			w.log.Error("watching config files", "error", err)
		case <-fw.Events:
			// Reading both is cheap, and unchanged documents are ignored.
			if err := w.readFiles(ctx); err != nil {
				w.log.Warn("rereading config files", "error", err)
			}
		}
	}
}

// readFiles applies both documents. A file missing at start is an error; an
// invalid one is refused and reported, leaving the last good one in force.
func (w *Watcher) readFiles(ctx context.Context) error {
	var errs []error
	if p := w.opts.ConfigFile; p != "" {
		if data, err := os.ReadFile(p); err != nil {
			errs = append(errs, fmt.Errorf("reading runtime config: %w", err))
		} else if err := w.ApplyConfigData(ctx, data, p); err != nil {
			errs = append(errs, err)
		}
	}
	if p := w.opts.CredentialsFile; p != "" {
		if data, err := os.ReadFile(p); err != nil {
			errs = append(errs, fmt.Errorf("reading credentials: %w", err))
		} else if err := w.ApplyCredentialsData(ctx, data, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Start reads the documents and follows them until ctx ends. It uses the
// API when a Client is set and answers within the sync timeout, and the
// files otherwise. It returns an error only when no source could be read.
func (w *Watcher) Start(ctx context.Context) error {
	if w.opts.Client != nil {
		apiCtx, cancel := context.WithCancel(ctx)
		defer func() {
			if apiCtx.Err() == nil && ctx.Err() == nil {
				// The informers run on after Start returns, until ctx ends.
				context.AfterFunc(ctx, cancel)
			}
		}()
		err := w.watchAPI(apiCtx)
		if err == nil {
			w.log.Info("following runtime config through the API",
				"namespace", w.opts.Namespace, "config_map", w.opts.ConfigMap, "secret", w.opts.Secret)
			return nil
		}
		cancel()
		if w.opts.ConfigFile == "" && w.opts.CredentialsFile == "" {
			return fmt.Errorf("watching runtime config: %w", err)
		}
		w.log.Warn("API server not reachable; following the mounted files", "error", err)
	}
	if w.opts.ConfigFile == "" && w.opts.CredentialsFile == "" {
		return errors.New("no runtime config source: set a ConfigMap or a file")
	}
	return w.watchFiles(ctx)
}
