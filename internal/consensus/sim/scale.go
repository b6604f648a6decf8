package sim

// ScaleRow is one line of the scale table: fault-free runs of n
// validators, every mempool full, a fixed per-message latency.
type ScaleRow struct {
	Validators       int     `json:"validators"`
	Heights          uint64  `json:"heights"`
	MessagesPerBlock float64 `json:"messages_per_block"`
	// MessagesPerValidator is what one validator receives per block.
	MessagesPerValidator float64 `json:"messages_received_per_validator_per_block"`
	KBPerBlock           float64 `json:"kb_per_block"`
	// CommitsPerSecond is blocks per virtual second when handling a
	// message costs nothing; CommitsPerSecondCPU when each received
	// message costs MsgCost µs of a validator's (single) CPU.
	CommitsPerSecond    float64 `json:"commits_per_virtual_second"`
	CommitsPerSecondCPU float64 `json:"commits_per_virtual_second_with_cpu_cost"`
}

// Scale measures messages per block and commits per virtual second for
// each validator count, with latencyMs per message and msgCost µs of CPU
// per received message for the second throughput column.
func Scale(sizes []int, heights int, latencyMs, msgCost int64) []ScaleRow {
	var rows []ScaleRow
	for _, n := range sizes {
		base := Config{Validators: n, Heights: heights, Saturate: true, LatencyMin: latencyMs, LatencyMean: 0, Seed: 1}
		a := Run(base)
		withCost := base
		withCost.MsgCost = msgCost
		b := Run(withCost)
		row := ScaleRow{Validators: n, Heights: a.MaxHeight}
		if a.MaxHeight > 0 && a.VirtualMs > 0 {
			row.MessagesPerBlock = float64(a.Messages) / float64(a.MaxHeight)
			row.MessagesPerValidator = row.MessagesPerBlock / float64(n)
			row.KBPerBlock = float64(a.Bytes) / float64(a.MaxHeight) / 1024
			row.CommitsPerSecond = float64(a.MaxHeight) / (float64(a.VirtualMs) / 1000)
		}
		if b.MaxHeight > 0 && b.VirtualMs > 0 {
			row.CommitsPerSecondCPU = float64(b.MaxHeight) / (float64(b.VirtualMs) / 1000)
		}
		rows = append(rows, row)
	}
	return rows
}
