package metrics

import "github.com/prometheus/client_golang/prometheus"

// Transcode is one source's transcode ladder.
type Transcode struct {
	Stream   string // the source's key
	Running  bool
	Restarts uint64
	Speed    float64
}

type transcodeDescs struct {
	running, restarts, speed *prometheus.Desc
}

func newTranscodeDescs(d func(name, help string, labels []string) *prometheus.Desc) transcodeDescs {
	stream := []string{"app", "stream"}
	return transcodeDescs{
		running:  d("transcode_running", "1 while an ffmpeg process runs the stream's rendition ladder.", stream),
		restarts: d("transcode_restarts_total", "Restarts of the stream's ladder after ffmpeg ended unexpectedly.", stream),
		speed:    d("transcode_speed", "ffmpeg's speed for the stream's ladder: 1 is real time, below it the ladder falls behind.", stream),
	}
}

func (d transcodeDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.running, d.restarts, d.speed}
}

func (d transcodeDescs) collect(ts []Transcode, ch chan<- prometheus.Metric) {
	for _, t := range ts {
		app, name := splitKey(t.Stream)
		run := 0.0
		if t.Running {
			run = 1
		}
		ch <- prometheus.MustNewConstMetric(d.running, prometheus.GaugeValue, run, app, name)
		ch <- prometheus.MustNewConstMetric(d.restarts, prometheus.CounterValue, float64(t.Restarts), app, name)
		ch <- prometheus.MustNewConstMetric(d.speed, prometheus.GaugeValue, t.Speed, app, name)
	}
}
