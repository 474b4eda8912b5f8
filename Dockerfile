# The companion's one image: the receiver, the workers and the scheduler run from it with different commands.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
COPY plugin plugin
COPY webhooks webhooks
COPY worker worker
USER nobody
