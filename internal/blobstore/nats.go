package blobstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cairn-db/cairn/crypto"
)

// NATSConfig configures the JetStream object-store engine.
type NATSConfig struct {
	// URLs of the cluster's servers (any subset: the client learns the rest).
	URLs []string
	// Bucket is the object store's name ("cairn-blobs").
	Bucket string
	// Replicas is the number of servers holding every blob (3).
	Replicas int
	// MaxBytes bounds the bucket's total size (0: no bound but the servers').
	MaxBytes int64
	// Name identifies this client to the servers (their monitoring).
	Name string
	// SpoolDir holds uploads while they are hashed, before they go to the
	// store (default: the system's temporary directory).
	SpoolDir string
}

// DefaultBucket is the object store's name unless configured.
const DefaultBucket = "cairn-blobs"

// opTimeout bounds each request to the cluster's API (bucket lookups,
// object metadata): without a quorum nobody answers, and a caller's
// deadline (an HTTP request's, minutes for a large upload) must not be
// what ends the wait.
const opTimeout = 5 * time.Second

// withoutDeadline keeps ctx's cancellation but drops its deadline, so that
// the client bounds each chunk's acknowledgement by its own timeout (5 s)
// instead of letting a stalled cluster hold an upload until the caller's
// deadline.
func withoutDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	return c, func() { stop(); cancel() }
}

// NATS stores blobs in a JetStream object store replicated on Replicas
// servers, each under its hex SHA-256. A blob exists for this store only
// when its metadata message and every chunk it names are in the stream
// (Stat), so a reader never finds part of a blob under its hash. Without a quorum, writes fail
// (ErrUnavailable) and reads still work from any replica that has the blob.
type NATS struct {
	cfg NATSConfig
	nc  *nats.Conn
	js  jetstream.JetStream

	mu  sync.Mutex
	obs jetstream.ObjectStore // nil until the bucket is reached
	st  jetstream.Stream      // the bucket's stream, set with obs
}

// OpenNATS connects to the cluster. An unreachable cluster is not an error
// here: the client keeps reconnecting and each call answers ErrUnavailable
// until it is back, so a node starts (and commits blocks without blobs)
// whatever the store's state.
func OpenNATS(cfg NATSConfig) (*NATS, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("blobstore: nats: no server URLs")
	}
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 3
	}
	if cfg.Name == "" {
		cfg.Name = "cairn-blobs"
	}
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), nats.Name(cfg.Name),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("blobstore: nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("blobstore: nats: %w", err)
	}
	return &NATS{cfg: cfg, nc: nc, js: js}, nil
}

// Engine implements Store.
func (*NATS) Engine() string { return "nats" }

// Close implements Store.
func (s *NATS) Close() error {
	s.nc.Close()
	return nil
}

// bucket returns the object store and its stream, creating them with the
// configured replicas and size on first use.
func (s *NATS) bucket(ctx context.Context) (jetstream.ObjectStore, jetstream.Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.obs != nil {
		return s.obs, s.st, nil
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	obs, err := s.js.ObjectStore(ctx, s.cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = s.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: s.cfg.Bucket, Description: "Cairn blobs, named by their hex SHA-256",
			Replicas: s.cfg.Replicas, MaxBytes: s.cfg.MaxBytes, Storage: jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = s.js.ObjectStore(ctx, s.cfg.Bucket)
		}
	}
	if err != nil {
		return nil, nil, s.wrap("open bucket "+s.cfg.Bucket, err)
	}
	// Object stores are created with direct gets, which any replica
	// answers, a lagging one too: a server just restarted would answer
	// "not found" for a blob the others hold, and a validator would refuse
	// a good proposal. Reads go through the stream's leader instead.
	st, err := s.js.Stream(ctx, "OBJ_"+s.cfg.Bucket)
	if err != nil {
		return nil, nil, s.wrap("open bucket "+s.cfg.Bucket, err)
	}
	if sc := st.CachedInfo().Config; sc.AllowDirect {
		sc.AllowDirect = false
		if _, err := s.js.UpdateStream(ctx, sc); err != nil {
			return nil, nil, s.wrap("bucket "+s.cfg.Bucket+": turn off direct gets", err)
		}
		if obs, err = s.js.ObjectStore(ctx, s.cfg.Bucket); err != nil {
			return nil, nil, s.wrap("open bucket "+s.cfg.Bucket, err)
		}
	}
	s.obs, s.st = obs, st
	return obs, st, nil
}

// wrap classifies a client or server error: anything but a missing object
// or a corrupt read means the store could not do it now.
func (s *NATS) wrap(what string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, jetstream.ErrDigestMismatch):
		return fmt.Errorf("%s: %w", what, ErrCorrupt)
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrCorrupt), errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", what, err)
	case strings.Contains(err.Error(), "maximum bytes exceeded"), strings.Contains(err.Error(), "insufficient storage"):
		return fmt.Errorf("%s: %w (%v)", what, ErrFull, err)
	}
	return fmt.Errorf("%s: %w (nats: %v)", what, ErrUnavailable, err)
}

// Put implements Store. The bytes are spooled to a local file first,
// hashed on the way, and then stored under their hash. The client sends
// the object's metadata message right after its chunks and reports success
// once a quorum acknowledged all of them; a failed upload can leave its
// metadata without (all) its chunks, which Stat and Open treat as absent
// and a later upload of the same bytes replaces. One write per blob and no renames keep
// the stream free of the deletes a rename would leave.
func (s *NATS) Put(ctx context.Context, r io.Reader, limit int64) (Ref, error) {
	obs, _, err := s.bucket(ctx)
	if err != nil {
		return Ref{}, err
	}
	spool, err := os.CreateTemp(s.cfg.SpoolDir, "blob-upload-*")
	if err != nil {
		return Ref{}, fmt.Errorf("blobstore: spool: %w", err)
	}
	defer func() {
		spool.Close()
		_ = os.Remove(spool.Name())
	}()
	lh := newLimitedHasher(ctxReader{ctx, r}, limit)
	if _, err := io.Copy(spool, lh); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return Ref{}, err
		}
		return Ref{}, fmt.Errorf("blobstore: upload: %w", err)
	}
	ref := lh.ref()
	if size, err := s.Stat(ctx, ref.Hash); err == nil && size == ref.Size {
		return ref, nil // stored before: content-addressed, one copy
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return Ref{}, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return Ref{}, fmt.Errorf("blobstore: spool: %w", err)
	}
	pctx, cancel := withoutDeadline(ctx)
	defer cancel()
	if _, err := obs.Put(pctx, jetstream.ObjectMeta{Name: ref.Hash.String()}, spool); err != nil {
		return Ref{}, s.wrap("blob upload", err)
	}
	return ref, nil
}

// Open implements Store. ctx bounds the whole read, not just the opening.
func (s *NATS) Open(ctx context.Context, h crypto.Hash) (*Reader, error) {
	obs, _, err := s.bucket(ctx)
	if err != nil {
		return nil, err
	}
	// The metadata and the chunks' count first, bounded: an absent blob,
	// one whose chunks are missing, or a cluster without a leader answers
	// within opTimeout, not the caller's deadline (the read below would
	// wait for missing chunks until that deadline).
	if _, err := s.Stat(ctx, h); err != nil {
		return nil, err
	}
	res, err := obs.Get(ctx, h.String())
	if err != nil {
		return nil, s.wrap("blob "+h.String(), err)
	}
	info, err := res.Info()
	if err != nil {
		res.Close()
		return nil, s.wrap("blob "+h.String(), err)
	}
	return NewReader(Ref{Hash: h, Size: info.Size}, natsResult{res, s, h}), nil
}

// natsResult maps the client's read errors onto this package's.
type natsResult struct {
	jetstream.ObjectResult
	s *NATS
	h crypto.Hash
}

func (r natsResult) Read(p []byte) (int, error) {
	n, err := r.ObjectResult.Read(p)
	if err != nil && err != io.EOF {
		err = r.s.wrap("blob "+r.h.String(), err)
	}
	return n, err
}

// Stat implements Store. A blob is there when its metadata is and the
// stream holds every chunk it names. The client publishes an object's
// metadata right after its chunks, without waiting for their
// acknowledgement, and purges the chunks when the upload fails; without a
// quorum both can stay in a server's log and be committed when the quorum
// is back, leaving a name with no bytes behind it. Such a blob is not
// stored: the upload was refused, and reading it would wait forever.
func (s *NATS) Stat(ctx context.Context, h crypto.Hash) (uint64, error) {
	obs, st, err := s.bucket(ctx)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	info, err := obs.GetInfo(ctx, h.String())
	if err != nil {
		return 0, s.wrap("blob "+h.String(), err)
	}
	if info.Chunks > 0 {
		subj := "$O." + s.cfg.Bucket + ".C." + info.NUID
		si, err := st.Info(ctx, jetstream.WithSubjectFilter(subj))
		if err != nil {
			return 0, s.wrap("blob "+h.String()+": chunks", err)
		}
		if n := si.State.Subjects[subj]; n != uint64(info.Chunks) {
			return 0, fmt.Errorf("blob %s: %d of its %d chunks stored (an upload that failed): %w", h, n, info.Chunks, ErrNotFound)
		}
	}
	return info.Size, nil
}
