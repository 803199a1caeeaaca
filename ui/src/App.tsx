import { lazy, Suspense } from 'react'
import { BrowserRouter, Route, Routes } from 'react-router'
import { Layout } from './components/layout/Layout'
import { RequireAuth } from './components/layout/RequireAuth'

const Dashboard = lazy(() => import('./pages/Dashboard'))
const VmList = lazy(() => import('./pages/VmList'))
const VmDetail = lazy(() => import('./pages/VmDetail'))
const VmNew = lazy(() => import('./pages/VmNew'))
const HostList = lazy(() => import('./pages/HostList'))
const HostDetail = lazy(() => import('./pages/HostDetail'))
const TaskDetail = lazy(() => import('./pages/TaskDetail'))
const Monitoring = lazy(() => import('./pages/Monitoring'))
const Alerts = lazy(() => import('./pages/Alerts'))
const NotFound = lazy(() => import('./pages/NotFound'))
const Login = lazy(() => import('./pages/Login'))
const Settings = lazy(() => import('./pages/Settings'))
const Audit = lazy(() => import('./pages/Audit'))
const Clusters = lazy(() => import('./pages/Clusters'))
const ClusterDetail = lazy(() => import('./pages/ClusterDetail'))
const Webhooks = lazy(() => import('./pages/Webhooks'))
const StoragePools = lazy(() => import('./pages/StoragePools'))
const Volumes = lazy(() => import('./pages/Volumes'))
const Networks = lazy(() => import('./pages/Networks'))
const SecurityGroups = lazy(() => import('./pages/SecurityGroups'))
const Drs = lazy(() => import('./pages/Drs'))

export function AppRoutes() {
  return (
    <Routes>
      <Route
        path="login"
        element={
          <Suspense fallback={null}>
            <Login />
          </Suspense>
        }
      />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={<Dashboard />} />
        <Route path="vms" element={<VmList />} />
        <Route path="vms/new" element={<VmNew />} />
        <Route path="vms/:id" element={<VmDetail />} />
        <Route path="hosts" element={<HostList />} />
        <Route path="hosts/:id" element={<HostDetail />} />
        <Route path="tasks/:id" element={<TaskDetail />} />
        <Route path="monitoring" element={<Monitoring />} />
        <Route path="alerts" element={<Alerts />} />
        <Route path="settings" element={<Settings />} />
        <Route path="settings/webhooks" element={<Webhooks />} />
        <Route path="audit" element={<Audit />} />
        <Route path="clusters" element={<Clusters />} />
        <Route path="clusters/:id" element={<ClusterDetail />} />
        <Route path="storage" element={<StoragePools />} />
        <Route path="volumes" element={<Volumes />} />
        <Route path="networks" element={<Networks />} />
        <Route path="security-groups" element={<SecurityGroups />} />
        <Route path="drs" element={<Drs />} />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  )
}

export function App() {
  return (
    <BrowserRouter>
      <AppRoutes />
    </BrowserRouter>
  )
}
